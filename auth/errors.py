"""Domain exceptions of ``auth/``.

Each class carries a stable snake_case ``code`` clients may switch on, the intended ``http_status``
(read by the HTTP layer's single mapping module) and a short Chinese ``message`` that never contains
personal data. What the outside systems' clients raise (login codes refused, upstream unavailable or
rejected, their flow control) is ``integrations.errors``, with the same wire codes as before. ``details`` holds machine-readable, non-personal extras; ``headers`` holds response
headers such as ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from kernel.errors import DomainError

_BEARER_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class AuthError(DomainError):
    code = "auth_error"
    http_status = 400
    default_message = "认证失败"


# --- SMS codes (the outside systems' login codes are ``integrations.errors``) ------------------


class InvalidCredentials(AuthError):
    """The one-time code the client brought cannot log anyone in; the client must start over."""

    code = "invalid_credentials"
    # 401: the credential presented does not authenticate; the client must obtain a new one.
    http_status = 401
    default_message = "登录凭证无效，请重新登录"


class SmsCodeInvalid(InvalidCredentials):
    code = "sms_code_invalid"
    default_message = "短信验证码错误"


class SmsCodeExpired(InvalidCredentials):
    code = "sms_code_expired"
    default_message = "短信验证码已失效，请重新获取"


class SmsCodeExhausted(InvalidCredentials):
    """Too many wrong guesses burnt the code (not the phone): a new code logs in as usual."""

    code = "sms_code_exhausted"
    default_message = "验证码输错次数过多，已失效，请重新获取验证码"


# --- BFF tokens ------------------------------------------------------------------------------------


class TokenError(AuthError):
    code = "token_error"
    http_status = 401

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", dict(_BEARER_INVALID))
        super().__init__(message, **kwargs)


class TokenInvalid(TokenError):
    code = "token_invalid"
    default_message = "登录状态无效，请重新登录"


class TokenExpired(TokenError):
    code = "token_expired"
    default_message = "登录状态已过期"


class RefreshTokenInvalid(TokenError):
    code = "refresh_token_invalid"
    default_message = "登录状态无效，请重新登录"


class RefreshTokenReused(TokenError):
    code = "refresh_token_reused"
    default_message = "登录状态异常，已退出该设备的登录，请重新登录"

    def __init__(self, *, account_id: str | None = None, family_id: str | None = None) -> None:
        # For the audit record only; never sent to the client.
        self.account_id = account_id
        self.family_id = family_id
        super().__init__()


class RefreshTokenExpired(TokenError):
    code = "refresh_token_expired"
    default_message = "登录已过期，请重新登录"


# --- Throttling ------------------------------------------------------------------------------------


class RateLimited(AuthError):
    code = "rate_limited"
    http_status = 429
    default_message = "操作过于频繁，请稍后再试"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(
            message,
            details={"retry_after": self.retry_after},
            headers={"Retry-After": str(self.retry_after)},
        )


class AccountLocked(RateLimited):
    """Too many failures for one identity from this client address (other addresses are unaffected)."""

    code = "account_locked"
    default_message = "尝试次数过多，已暂时锁定，请稍后再试"


# --- Real name, identifiers, enterprises --------------------------------------------------------


class RealnameLevelRequired(AuthError):
    code = "realname_level_required"
    http_status = 403
    default_message = "请先完成更高级别的实名认证"

    def __init__(self, required: int, current: int | None) -> None:
        self.required = required
        self.current = current
        super().__init__(details={"required_level": required, "current_level": current})


class RealnameMismatch(AuthError):
    code = "realname_mismatch"
    http_status = 422
    default_message = "姓名与身份证号码核验未通过"


class InvalidInput(AuthError):
    """A field failed validation; ``details["field"]`` names it (never echoes the value)."""

    code = "invalid_input"
    http_status = 422
    default_message = "输入内容格式不正确"

    def __init__(self, field: str, message: str | None = None) -> None:
        super().__init__(message, details={"field": field})


class InvalidIdNumber(InvalidInput):
    code = "invalid_id_number"
    default_message = "身份证号码格式不正确"

    def __init__(self, message: str | None = None) -> None:
        super().__init__("id_number", message)


class InvalidUscc(InvalidInput):
    code = "invalid_uscc"
    default_message = "统一社会信用代码格式不正确"

    def __init__(self, message: str | None = None) -> None:
        super().__init__("uscc", message)


class InvalidPhone(InvalidInput):
    code = "invalid_phone"
    default_message = "手机号码格式不正确"

    def __init__(self, message: str | None = None) -> None:
        super().__init__("phone", message)


class EnterpriseNotFound(AuthError):
    code = "enterprise_not_found"
    http_status = 404
    default_message = "未查询到该企业"


class EnterpriseInactive(AuthError):
    code = "enterprise_inactive"
    http_status = 409
    default_message = "该企业状态异常（已注销或吊销），无法关联"


class EnterpriseLinkRequired(AuthError):
    code = "enterprise_link_required"
    http_status = 403
    default_message = "您尚未获得该企业的授权"


class BindingNotFound(AuthError):
    code = "binding_not_found"
    http_status = 404
    default_message = "未找到该绑定"


class LastBinding(AuthError):
    code = "last_binding"
    http_status = 409
    default_message = "这是您唯一的登录方式，无法解除绑定"


class BindingConflict(AuthError):
    code = "binding_conflict"
    http_status = 409
    default_message = "该登录方式已绑定其他实名账号"


# --- Operators -------------------------------------------------------------------------------------


class OperatorCredentialsInvalid(InvalidCredentials):
    """Same answer for an unknown username, a wrong password and a disabled operator."""

    code = "operator_credentials_invalid"
    http_status = 401
    default_message = "用户名或密码错误"


class OperatorRoleRequired(AuthError):
    code = "operator_role_required"
    http_status = 403
    default_message = "没有执行该操作的权限"

    def __init__(self, role: str) -> None:
        super().__init__(details={"required_role": role})


# --- Real-name claims and recovery (auth.protection) ----------------------------------------------


class RealnameBoundElsewhere(AuthError):
    """The verified ID number belongs to another account: knowing a name and an ID number never
    opens that account. ``details`` say how to prove control of it (``methods``, masked phone)."""

    code = "realname_bound_elsewhere"
    http_status = 409
    default_message = "该身份已绑定另一个账号。如需合并，请通过该账号绑定的手机号验证码或人脸核验证明是您本人"


class ClaimNotFound(AuthError):
    code = "claim_not_found"
    http_status = 404
    default_message = "未找到该申请或申请已失效，请重新发起"


class ClaimRequired(AuthError):
    """A claim was asked for without a pending conflict (verify the real name first)."""

    code = "claim_not_available"
    http_status = 409
    default_message = "当前没有需要证明的实名冲突，请先进行实名认证"


class ClaimMethodUnavailable(AuthError):
    code = "claim_method_unavailable"
    http_status = 409
    default_message = "该账号未绑定手机号，请使用人脸核验"


class ClaimProofInvalid(AuthError):
    code = "claim_proof_invalid"
    http_status = 422
    default_message = "验证未通过"

    def __init__(self, attempts_left: int, message: str | None = None) -> None:
        super().__init__(message, details={"attempts_left": max(0, attempts_left)})


class FaceCheckFailed(AuthError):
    code = "face_check_failed"
    http_status = 422
    default_message = "人脸核验未通过，请本人重新进行人脸核验"


class RecoveryRefused(AuthError):
    code = "recovery_refused"
    http_status = 409
    default_message = "无法移除当前正在使用的登录方式"
