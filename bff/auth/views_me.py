"""The signed-in citizen: profile, preferences, bindings, real name, enterprises, acting context.

Everything here is personal: answers are ``Cache-Control: private, no-store`` and show masked values only.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from auth.realname import RealnameLevel
from bff.auth import schemas
from bff.extensions import services
from bff.caching.headers import private_no_store as private
from bff.auth.security import citizen_required, client_ip, current_principal
from bff.extensions import ErrorEnvelopeSchema

blp = Blueprint("me", __name__, url_prefix="/v1/me", description="The signed-in citizen's account")



def _view(account_view) -> dict:
    return {**account_view.to_dict(), "acting_for": current_principal().acting_for}


@blp.route("")
class Me(MethodView):
    @citizen_required(blp)
    @blp.response(200, schemas.MeSchema)
    def get(self):
        """Profile with masked ID number and phones, bindings, enterprises, level and preferences."""
        return private(_view(services().identity.me(current_principal().account_id)))


@blp.route("/preferences")
class MePreferences(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.arguments(schemas.PreferencesUpdateSchema)
    @blp.response(200, schemas.PreferencesSchema)
    def put(self, body):
        """Change preferences: only the fields given change (mode standard/elder, language zh/mn,
        6-digit home region, push opt-outs per category)."""
        preferences = services().identity.update_preferences(current_principal().account_id, body)
        return private(preferences.to_dict())


@blp.route("/bindings/<any(wechat, alipay, phone):channel>")
class MeBinding(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema, description="`binding_not_found`")
    @blp.alt_response(409, schema=ErrorEnvelopeSchema, description="`last_binding`: the only way left to log in")
    @blp.arguments(schemas.BindingArgsSchema, location="query")
    @blp.response(200, schemas.MeSchema)
    def delete(self, args, channel):
        """Unbind a login channel (`wechat`, `alipay` or `phone`); the last one cannot be removed."""
        view = services().identity.remove_binding(current_principal().account_id, channel, args.get("binding_id"))
        return private(_view(view))


@blp.route("/realname")
class MeRealname(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.alt_response(
        409,
        schema=ErrorEnvelopeSchema,
        description="`realname_bound_elsewhere`: the ID number belongs to another account. Nothing is merged; "
        "`errors` says how to prove control of that account: `methods` (`sms`, `face`), `phone_masked` "
        "(its bound phone, masked), `claim_path`, `expires_in`. Or `binding_conflict`: verified as someone else",
    )
    @blp.alt_response(
        429, schema=ErrorEnvelopeSchema,
        description="`rate_limited` (`Retry-After`): 5 checks per account and per ID number a day, 20 per address an hour",
    )
    @blp.arguments(schemas.RealnameSchema)
    @blp.response(200, schemas.RealnameResultSchema)
    def post(self, body):
        """Verify name + ID number against the population register (三级). The ID number's check digit
        is validated first (422 `invalid_id_number`); a mismatch is 422 `realname_mismatch`. Knowing a
        name and an ID number never opens another account: when another account already holds the
        number the answer is 409 `realname_bound_elsewhere` and the accounts stay apart."""
        result = services().identity.verify_realname(
            current_principal().account_id, body["name"], body["id_number"], client_ip=client_ip()
        )
        return private(result.to_dict())


@blp.route("/realname/claims")
class MeRealnameClaims(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.alt_response(
        409, schema=ErrorEnvelopeSchema,
        description="`claim_not_available`: no recent `realname_bound_elsewhere` to claim; "
        "`claim_method_unavailable`: the existing account has no phone (use `face`)",
    )
    @blp.alt_response(429, schema=ErrorEnvelopeSchema, description="`rate_limited` (`Retry-After`): claims per account, per ID number, SMS per phone")
    @blp.alt_response(503, schema=ErrorEnvelopeSchema, description="The SMS gateway is unavailable")
    @blp.arguments(schemas.ClaimStartSchema)
    @blp.response(201, schemas.ClaimStartedSchema)
    def post(self, body):
        """Start proving control of the account that holds your verified ID number: `sms` sends a code
        to that account's bound phone (shown masked), `face` waits for a 四级 face capture. A claim
        belongs to your account, lives 10 minutes and allows 5 tries."""
        started = services().identity.start_claim(current_principal().account_id, body["method"], client_ip=client_ip())
        return private(started, 201)


@blp.route("/realname/claims/<string:claim_id>/confirm")
class MeRealnameClaimConfirm(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema, description="`claim_not_found`: unknown, expired, used, burned or not yours")
    @blp.alt_response(409, schema=ErrorEnvelopeSchema, description="`claim_not_available`: the ID number moved since; `binding_conflict`")
    @blp.alt_response(422, schema=ErrorEnvelopeSchema, description="`claim_proof_invalid`: wrong code or face (`errors.attempts_left`)")
    @blp.alt_response(503, schema=ErrorEnvelopeSchema, description="The identity platform is unavailable")
    @blp.arguments(schemas.ClaimConfirmSchema)
    @blp.response(200, schemas.TokenPairSchema)
    def post(self, body, claim_id):
        """Prove the claim with the SMS `code` or a `face_token`. Only then is your account merged into
        the existing one (it keeps its data; its holder is told on every channel). Answers fresh tokens
        for the merged account; the session that called ends."""
        if not schemas.CLAIM_ID.regex.fullmatch(claim_id):
            from auth.errors import ClaimNotFound

            raise ClaimNotFound()
        pair = services().identity.confirm_claim(
            current_principal(), claim_id, code=body.get("code"), face_token=body.get("face_token"), client_ip=client_ip()
        )
        return private(pair.to_dict())


@blp.route("/recovery")
class MeRecovery(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.alt_response(
        403, schema=ErrorEnvelopeSchema,
        description="`realname_level_required`: only a real-name verified account can be recovered",
    )
    @blp.alt_response(404, schema=ErrorEnvelopeSchema, description="`binding_not_found`: not a login binding of this account")
    @blp.alt_response(
        409, schema=ErrorEnvelopeSchema,
        description="`recovery_refused`: the binding this session uses; `last_binding`: nothing would be left to log in with",
    )
    @blp.alt_response(422, schema=ErrorEnvelopeSchema, description="`face_check_failed`")
    @blp.alt_response(429, schema=ErrorEnvelopeSchema, description="`rate_limited` (`Retry-After`)")
    @blp.alt_response(503, schema=ErrorEnvelopeSchema, description="The identity platform is unavailable")
    @blp.arguments(schemas.RecoverySchema)
    @blp.response(200, schemas.TokenPairSchema)
    def post(self, body):
        """这不是我: after a 四级 face check of the account's verified person, remove the login bindings
        that are not theirs. Every session of the account ends at once (refresh tokens and access
        tokens); this device continues with the fresh tokens answered. Audited; the holder is notified."""
        pair = services().identity.recover(
            current_principal(), body["face_token"], body["evict_bindings"], client_ip=client_ip()
        )
        return private(pair.to_dict())


@blp.route("/enterprises")
class MeEnterprises(MethodView):
    @citizen_required(blp, min_level=int(RealnameLevel.VERIFIED), acting_for=False)
    @blp.alt_response(404, schema=ErrorEnvelopeSchema, description="`enterprise_not_found`")
    @blp.alt_response(409, schema=ErrorEnvelopeSchema, description="`enterprise_inactive`: revoked or cancelled")
    @blp.alt_response(429, schema=ErrorEnvelopeSchema, description="Too many lookups today")
    @blp.arguments(schemas.EnterpriseLinkRequestSchema)
    @blp.response(201, schemas.EnterpriseLinkSchema)
    def post(self, body):
        """Link an enterprise by its USCC (needs real-name 三级: else 403 `realname_level_required`).
        The legal representative gets an active link; anyone else a pending agent (经办人) link."""
        link = services().identity.link_enterprise(current_principal().account_id, body["uscc"])
        return private(link.to_dict(), 201)


@blp.route("/enterprises/<string:enterprise_id>/agents/approve")
class MeEnterpriseAgentApproval(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.alt_response(403, schema=ErrorEnvelopeSchema, description="`enterprise_link_required`: only the active legal representative may approve")
    @blp.arguments(schemas.AgentApprovalSchema)
    @blp.response(200, schemas.EnterpriseLinkSchema)
    def post(self, body, enterprise_id):
        """Legal representative only: approve an agent's pending link (the agent shows their account id)."""
        link = services().identity.approve_enterprise_agent(
            current_principal().account_id, enterprise_id, body["account_id"]
        )
        return private(link.to_dict())


@blp.route("/enterprises/<string:enterprise_id>")
class MeEnterprise(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.alt_response(403, schema=ErrorEnvelopeSchema, description="`enterprise_link_required`: only the legal representative may remove others")
    @blp.arguments(schemas.UnlinkArgsSchema, location="query")
    @blp.response(204)
    def delete(self, args, enterprise_id):
        """Leave an enterprise, or (legal representative) remove a member with `?member=<account id>`."""
        services().identity.unlink_enterprise(current_principal().account_id, enterprise_id, args.get("member"))
        return private("", 204)


@blp.route("/acting-for")
class MeActingFor(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.alt_response(403, schema=ErrorEnvelopeSchema, description="`enterprise_link_required`: no active link to that enterprise")
    @blp.arguments(schemas.ActingForSchema)
    @blp.response(200, schemas.AccessGrantSchema)
    def post(self, body):
        """Switch this session to act for an enterprise (active link required), or back with `null`.
        Returns a new access token; later refreshes keep the context while the link stays active."""
        grant = services().identity.act_for(current_principal(), body["enterprise_id"])
        return private(grant.to_dict())
