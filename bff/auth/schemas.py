"""Request and response schemas of the identity endpoints (one success schema per endpoint).

Formats are validated here, at the edge, so junk never reaches WeChat, Alipay, the SMS gateway or the
identity platform: a fuzzer must get 422, never an upstream error.
"""
from __future__ import annotations


from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from auth.operators import MAX_PASSWORD_LENGTH
from auth.preferences import LANGUAGES, MODES, PUSH_CATEGORIES, PUSH_CHANNELS


class FullMatch(validate.Regexp):
    """``Regexp`` that must match the whole value (``$`` alone lets a trailing newline through).
    Still documented as ``pattern`` because it is a ``Regexp``."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


# wx.login codes are 32 characters, phone-button codes 64, my.getAuthCode codes 32: generous bounds,
# URL-safe characters only.
ONE_TIME_CODE = FullMatch(r"^[A-Za-z0-9_-]{8,128}$", error="not a valid one-time code")
PHONE = FullMatch(r"^(?:\+86|0086|86)?[ -]?1[3-9][0-9](?:[ -]?[0-9]){8}$", error="a mainland mobile number, 11 digits")
SMS_CODE = FullMatch(r"^[0-9]{6}$", error="the 6-digit code from the SMS")
ID_NUMBER = FullMatch(r"^[0-9]{17}[0-9Xx]$", error="an 18-character resident ID number")
USCC = FullMatch(r"^[0-9A-HJ-NP-RTUWXYa-hj-np-rtuwxy]{18}$", error="an 18-character unified social credit code")
REGION = FullMatch(r"^[0-9]{6}$", error="a 6-digit administrative division code")
ACCOUNT_ID = FullMatch(r"^acc_[a-z2-7]{26}$", error="an account id (acc_…)")
ENTERPRISE_ID = FullMatch(r"^ent_[a-z2-7]{26}$", error="an enterprise id (ent_…)")
USERNAME = FullMatch(r"^[A-Za-z][A-Za-z0-9._-]{2,63}$", error="an operator username")


class _Strict(Schema):
    """Request bodies: unknown fields are refused (422), as marshmallow does by default."""


# --- requests ------------------------------------------------------------------------------------


class WeChatLoginSchema(_Strict):
    code = fields.String(required=True, validate=ONE_TIME_CODE, metadata={"description": "the `code` from `wx.login()`"})


class WeChatPhoneSchema(_Strict):
    code = fields.String(
        required=True, validate=ONE_TIME_CODE, metadata={"description": "the `code` from the getPhoneNumber button"}
    )


class AlipayLoginSchema(_Strict):
    auth_code = fields.String(
        required=True, validate=ONE_TIME_CODE, metadata={"description": "the `authCode` from `my.getAuthCode()`"}
    )


class SmsSendSchema(_Strict):
    phone = fields.String(required=True, validate=PHONE, metadata={"example": "13800471001"})


class AppLoginSchema(_Strict):
    phone = fields.String(required=True, validate=PHONE, metadata={"example": "13800471001"})
    sms_code = fields.String(required=True, validate=SMS_CODE, metadata={"example": "123456"})


class RefreshSchema(_Strict):
    # Not pattern-checked here: any wrong token is a 401 (the client must log in again), not a 422.
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=4096))


class LogoutSchema(_Strict):
    all_devices = fields.Boolean(load_default=False, metadata={"description": "end every session of the account"})


class RealnameSchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=2, max=40), metadata={"example": "巴特尔"})
    id_number = fields.String(required=True, validate=ID_NUMBER)


CLAIM_ID = FullMatch(r"^[A-Za-z0-9_-]{16}$", error="a claim id")
BINDING_ID = FullMatch(r"^(wechat|alipay|phone):[0-9a-f]{12}$", error="a binding id from GET /v1/me")


class ClaimStartSchema(_Strict):
    method = fields.String(
        required=True,
        validate=validate.OneOf(("sms", "face")),
        metadata={"description": "`sms`: a code to the existing account's bound phone; `face`: a 四级 face check"},
    )


class ClaimConfirmSchema(_Strict):
    code = fields.String(validate=SMS_CODE, metadata={"description": "the code sent to the existing account's phone"})
    face_token = fields.String(
        validate=ONE_TIME_CODE, metadata={"description": "the identity platform's token of a finished face capture"}
    )

    @validates_schema
    def _exactly_one(self, data, **kwargs):
        if ("code" in data) == ("face_token" in data):
            raise ValidationError("give exactly one of code or face_token", field_name="_schema")


class RecoverySchema(_Strict):
    face_token = fields.String(
        required=True, validate=ONE_TIME_CODE, metadata={"description": "a finished 四级 face capture of the account holder"}
    )
    evict_bindings = fields.List(
        fields.String(validate=BINDING_ID),
        required=True,
        validate=validate.Length(min=1, max=10),
        metadata={"description": "ids of the login bindings that are not the holder's (from `GET /v1/me`)"},
    )


class PreferencesUpdateSchema(_Strict):
    """Only the given fields change; `push_opt_outs` replaces the listed categories only."""

    mode = fields.String(validate=validate.OneOf(MODES))
    language = fields.String(validate=validate.OneOf(LANGUAGES))
    home_region = fields.String(allow_none=True, validate=REGION, metadata={"description": "null clears it"})
    push_opt_outs = fields.Dict(
        keys=fields.String(validate=validate.OneOf(PUSH_CATEGORIES)),
        values=fields.List(fields.String(validate=validate.OneOf(PUSH_CHANNELS)), validate=validate.Length(max=4)),
        metadata={"description": "category → channels opted out of", "example": {"marketing": ["wechat"]}},
    )


class BindingArgsSchema(_Strict):
    binding_id = fields.String(
        validate=validate.Length(min=1, max=128), metadata={"description": "remove just this binding of the channel"}
    )


class EnterpriseLinkRequestSchema(_Strict):
    uscc = fields.String(required=True, validate=USCC, metadata={"example": "91150102MA0N3K7P10"})


class AgentApprovalSchema(_Strict):
    account_id = fields.String(required=True, validate=ACCOUNT_ID, metadata={"description": "the agent's account id"})


class UnlinkArgsSchema(_Strict):
    member = fields.String(
        validate=ACCOUNT_ID,
        metadata={"description": "legal representatives only: remove this member instead of leaving"},
    )


class ActingForSchema(_Strict):
    enterprise_id = fields.String(
        required=True, allow_none=True, validate=ENTERPRISE_ID, metadata={"description": "null: act as oneself again"}
    )


class OperatorLoginSchema(_Strict):
    username = fields.String(required=True, validate=USERNAME)
    password = fields.String(required=True, validate=validate.Length(min=1, max=MAX_PASSWORD_LENGTH))


# --- responses -----------------------------------------------------------------------------------


class AccountSummarySchema(Schema):
    id = fields.String(required=True, metadata={"example": "acc_2xq7…"})
    type = fields.String(required=True, metadata={"description": "person | operator"})
    realname_level = fields.Integer(required=True, allow_none=True, metadata={"description": "2–5; null for operators"})
    bindings = fields.List(fields.String(), required=True, metadata={"example": ["wechat", "phone"]})


class TokenPairSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"example": 600})
    account = fields.Nested(AccountSummarySchema, required=True)


class SmsCodeSentSchema(Schema):
    expires_in = fields.Integer(required=True, metadata={"example": 300})
    resend_after = fields.Integer(required=True, metadata={"example": 60})


class AccountResultSchema(Schema):
    account = fields.Nested(AccountSummarySchema, required=True)


class AccessGrantSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    acting_for = fields.String(required=True, allow_none=True)


class JwkSchema(Schema):
    class Meta:
        unknown = "include"

    kty = fields.String(required=True)
    crv = fields.String()
    x = fields.String()
    y = fields.String()
    kid = fields.String(required=True)
    use = fields.String()
    alg = fields.String()


class JwksSchema(Schema):
    keys = fields.List(fields.Nested(JwkSchema), required=True)


class BindingSchema(Schema):
    id = fields.String(required=True)
    channel = fields.String(required=True)
    fingerprint = fields.String(required=True)
    masked = fields.String(required=True, allow_none=True)
    bound_at = fields.Integer(required=True)


class EnterpriseLinkSchema(Schema):
    id = fields.String(required=True)
    uscc = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, metadata={"description": "legal_representative | agent"})
    status = fields.String(required=True, metadata={"description": "active | pending"})


class PreferencesSchema(Schema):
    mode = fields.String(required=True)
    language = fields.String(required=True)
    home_region = fields.String(required=True, allow_none=True)
    push_opt_outs = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)


class MeSchema(Schema):
    id = fields.String(required=True)
    type = fields.String(required=True)
    realname_level = fields.Integer(required=True)
    realname_level_name = fields.String(required=True, metadata={"example": "三级"})
    name_masked = fields.String(required=True, allow_none=True)
    id_number_masked = fields.String(required=True, allow_none=True)
    phones_masked = fields.List(fields.String(), required=True)
    bindings = fields.List(fields.Nested(BindingSchema), required=True)
    enterprises = fields.List(fields.Nested(EnterpriseLinkSchema), required=True)
    preferences = fields.Nested(PreferencesSchema, required=True)
    acting_for = fields.String(required=True, allow_none=True, metadata={"description": "enterprise id of this request"})


class RealnameResultSchema(Schema):
    account_id = fields.String(required=True, metadata={"description": "differs from before when accounts merged"})
    realname_level = fields.Integer(required=True)
    realname_level_name = fields.String(required=True)
    merged = fields.Boolean(required=True)


class ClaimStartedSchema(Schema):
    claim_id = fields.String(required=True)
    method = fields.String(required=True, metadata={"description": "sms | face"})
    phone_masked = fields.String(required=True, allow_none=True, metadata={"example": "138****1234"})
    expires_in = fields.Integer(required=True, metadata={"example": 600})
    attempts_left = fields.Integer(required=True, metadata={"example": 5})


class OperatorSchema(Schema):
    id = fields.String(required=True)
    type = fields.String(required=True, metadata={"example": "operator"})
    username = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
