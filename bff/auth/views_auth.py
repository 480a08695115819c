"""Logins (WeChat, Alipay, APP SMS), the WeChat phone button, refresh, logout and the JWKS.

Thin views: validate the body (schemas), call ``AuthService``, shape the answer. Domain errors become
the one envelope in ``bff.errors``. Every answer that carries a token is ``Cache-Control: no-store``.
"""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from bff.auth import schemas
from bff.extensions import services
from bff.caching.headers import no_store, public
from bff.auth.security import citizen_required, client_ip, current_principal, refuse_misrouted_refresh
from bff.extensions import ErrorEnvelopeSchema

blp = Blueprint("auth", __name__, description="Sign-in for the APP and the mini-programs; sessions and tokens")

JWKS_MAX_AGE = 300  # well under the 995 s a retired key stays published


def _login_errors(func, unauthorized: str = "The code is invalid, used or expired: get a new one",
                  too_many: str = "`rate_limited`: too many attempts (`Retry-After`)"):
    func = blp.alt_response(401, schema=ErrorEnvelopeSchema, description=unauthorized)(func)
    func = blp.alt_response(429, schema=ErrorEnvelopeSchema, description=too_many)(func)
    func = blp.alt_response(503, schema=ErrorEnvelopeSchema, description="The upstream platform is unavailable")(func)
    return func


@blp.route("/v1/auth/wechat/login")
class WeChatLogin(MethodView):
    @_login_errors
    @blp.arguments(schemas.WeChatLoginSchema)
    @blp.response(200, schemas.TokenPairSchema)
    def post(self, body):
        """Log in from the WeChat mini-program with the `wx.login()` code (same unionid = same account)."""
        pair = services().identity.login_wechat(body["code"], client_ip=client_ip())
        return no_store(pair.to_dict())


@blp.route("/v1/auth/alipay/login")
class AlipayLogin(MethodView):
    @_login_errors
    @blp.arguments(schemas.AlipayLoginSchema)
    @blp.response(200, schemas.TokenPairSchema)
    def post(self, body):
        """Log in from the Alipay mini-program with the `my.getAuthCode()` code."""
        pair = services().identity.login_alipay(body["auth_code"], client_ip=client_ip())
        return no_store(pair.to_dict())


@blp.route("/v1/auth/sms/send")
class SmsSend(MethodView):
    @blp.alt_response(429, schema=ErrorEnvelopeSchema, description="`rate_limited`: resend too soon, or the phone's or this address's daily limit (`Retry-After`)")
    @blp.alt_response(503, schema=ErrorEnvelopeSchema, description="The SMS gateway is unavailable")
    @blp.arguments(schemas.SmsSendSchema)
    @blp.response(200, schemas.SmsCodeSentSchema)
    def post(self, body):
        """Send a 6-digit login code by SMS (the same answer whether or not the phone has an account)."""
        sent = services().identity.send_sms_code(body["phone"], client_ip=client_ip())
        return no_store(sent.to_dict())


def _sms_login_errors(func):
    return _login_errors(
        func,
        unauthorized="`sms_code_invalid` (`errors.attempts_left`), `sms_code_expired`, `sms_code_exhausted` "
                     "(five wrong guesses burnt the code: request a new one)",
        too_many="`rate_limited` (this address is trying too many phones, or the phone is being guessed from "
                 "elsewhere: wait `Retry-After` seconds); `account_locked` (this address is locked out of this "
                 "phone for 15 min; other devices are not)")


@blp.route("/v1/auth/app/login")
class AppLogin(MethodView):
    @_sms_login_errors
    @blp.arguments(schemas.AppLoginSchema)
    @blp.response(200, schemas.TokenPairSchema)
    def post(self, body):
        """Log in to the APP with a phone number and the SMS code. Five wrong guesses burn the code (never
        the phone); ten from one address lock that address out of that phone for 15 min."""
        pair = services().identity.login_app_sms(body["phone"], body["sms_code"], client_ip=client_ip())
        return no_store(pair.to_dict())


@blp.route("/v1/auth/wechat/phone")
class WeChatPhone(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.alt_response(409, schema=ErrorEnvelopeSchema, description="`binding_conflict`: the phone belongs to another verified person")
    @blp.alt_response(429, schema=ErrorEnvelopeSchema, description="Too many attempts")
    @blp.arguments(schemas.WeChatPhoneSchema)
    @blp.response(200, schemas.AccountResultSchema)
    def post(self, body):
        """Bind the phone number from WeChat's phone button. If another account already has it, the two
        become one account (`account.id` names the survivor; current tokens keep working)."""
        summary = services().identity.bind_wechat_phone(current_principal().account_id, body["code"])
        return no_store({"account": summary.to_dict()})


@blp.route("/v1/auth/refresh")
class Refresh(MethodView):
    @blp.alt_response(
        401,
        schema=ErrorEnvelopeSchema,
        description="`refresh_token_invalid`, `refresh_token_expired`, or `refresh_token_reused` "
        "(a rotated token came back: the whole session was ended)",
    )
    @blp.arguments(schemas.RefreshSchema)
    @blp.response(200, schemas.TokenPairSchema)
    def post(self, body):
        """Exchange a refresh token for a new pair. Every use rotates it; a retry within 30 s of a lost
        answer gets the same new pair."""
        service = services().identity
        pair = service.refresh(body["refresh_token"])
        if pair.account.type != "person":
            refuse_misrouted_refresh(pair)
        return no_store(pair.to_dict())


@blp.route("/v1/auth/logout")
class Logout(MethodView):
    @citizen_required(blp, acting_for=False)
    @blp.arguments(schemas.LogoutSchema)
    @blp.response(204)
    def post(self, body):
        """End this session (the refresh token stops working and the access token is refused at once),
        or every session of the account with `all_devices: true`."""
        principal = current_principal()
        services().identity.logout(principal.account_id, principal.session_id, all_devices=body["all_devices"])
        return no_store("", 204)


@blp.route("/.well-known/jwks.json")
class Jwks(MethodView):
    @blp.response(200, schemas.JwksSchema)
    def get(self):
        """Public keys that verify access tokens (ES256). Cacheable; refetch on an unknown `kid`."""
        return services().identity.jwks(), 200, public(JWKS_MAX_AGE)
