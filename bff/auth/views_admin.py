"""Console operators: password login, refresh, logout and who-am-I (audience ``msb-console``).

Operators are created with ``python -m auth create-operator``; there is no sign-up endpoint.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from bff.auth import schemas
from bff.extensions import services
from bff.auth.security import client_ip, current_principal, operator_required, refuse_misrouted_refresh
from bff.caching.headers import no_store, private_no_store
from bff.extensions import ErrorEnvelopeSchema

blp = Blueprint("admin_auth", __name__, url_prefix="/v1/admin", description="Console operator sign-in")


@blp.route("/auth/login")
class OperatorLogin(MethodView):
    @blp.alt_response(401, schema=ErrorEnvelopeSchema, description="`operator_credentials_invalid`")
    @blp.alt_response(429, schema=ErrorEnvelopeSchema, description="`rate_limited`: this address is trying too many usernames, or the "
                      "username is being guessed from elsewhere (seconds, `Retry-After`); `account_locked`: this address "
                      "is locked out of this username for 15 min (the operator's own address is not)")
    @blp.arguments(schemas.OperatorLoginSchema)
    @blp.response(200, schemas.TokenPairSchema)
    def post(self, body):
        """Username + password → console token pair (30 min idle, 12 h absolute session)."""
        pair = services().identity.login_operator(body["username"], body["password"], client_ip=client_ip())
        return no_store(pair.to_dict())


@blp.route("/auth/refresh")
class OperatorRefresh(MethodView):
    @blp.alt_response(401, schema=ErrorEnvelopeSchema, description="Invalid, expired or reused refresh token")
    @blp.arguments(schemas.RefreshSchema)
    @blp.response(200, schemas.TokenPairSchema)
    def post(self, body):
        """Rotate a console refresh token."""
        pair = services().identity.refresh(body["refresh_token"])
        if pair.account.type != "operator":
            refuse_misrouted_refresh(pair)
        return no_store(pair.to_dict())


@blp.route("/auth/logout")
class OperatorLogout(MethodView):
    @operator_required(blp)
    @blp.response(204)
    def post(self):
        """End this console session."""
        principal = current_principal()
        services().identity.logout(principal.account_id, principal.session_id)
        return no_store("", 204)


@blp.route("/me")
class OperatorMe(MethodView):
    @operator_required(blp)
    @blp.response(200, schemas.OperatorSchema)
    def get(self):
        """The signed-in operator and their roles."""
        principal = current_principal()
        operator = services().identity.operators.get(principal.account_id)
        username = operator.username if operator is not None else ""
        return private_no_store({"id": principal.account_id, "type": "operator", "username": username,
                                 "roles": list(principal.roles)})
