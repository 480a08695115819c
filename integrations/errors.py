"""What the outside-system clients raise: each a ``kernel.errors.DomainError``.

The wire ``code``, ``http_status``, ``message``, ``details`` and ``headers`` are the ones the API
answered when these errors still belonged to ``auth`` (``code_invalid`` 401, ``rate_limited`` 429 with
``Retry-After``, ``upstream_unavailable`` 503, ...), so moving them changed nothing a client sees. A
domain that validates the same input itself (``auth.identifiers``) keeps its own class with the same
code; the domains import these only where they must catch or raise them.
"""
from __future__ import annotations

from kernel.errors import DomainError


class IntegrationError(DomainError):
    code = "integration_error"
    http_status = 502
    default_message = "外部服务出错，请稍后再试"


# --- The outside system as a whole -----------------------------------------------------------------


class UpstreamUnavailable(IntegrationError):
    """Not the user's doing: outages, timeouts, 5xx, bad signatures, our own misconfiguration."""

    code = "upstream_unavailable"
    http_status = 503
    default_message = "服务暂时不可用，请稍后再试"

    def __init__(self, message: str | None = None, *, retry_after: int = 5, upstream: str | None = None) -> None:
        details = {"upstream": upstream} if upstream else {}
        super().__init__(message, details=details, headers={"Retry-After": str(retry_after)})


class UpstreamRejected(IntegrationError):
    """The upstream refused this user or request for its own reasons (e.g. WeChat 40226 risky user)."""

    code = "upstream_rejected"
    http_status = 403
    default_message = "当前账号暂时无法登录，请稍后再试或更换登录方式"

    def __init__(
        self, message: str | None = None, *, upstream: str | None = None, upstream_code: str | None = None
    ) -> None:
        details = {key: value for key, value in (("upstream", upstream), ("upstream_code", upstream_code)) if value}
        super().__init__(message, details=details)


class RateLimited(IntegrationError):
    """The upstream's own flow control (WeChat 45011, the SMS gateway's windows)."""

    code = "rate_limited"
    http_status = 429
    default_message = "操作过于频繁，请稍后再试"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(
            message, details={"retry_after": self.retry_after}, headers={"Retry-After": str(self.retry_after)}
        )


# --- One-time login codes (WeChat wx.login / phone button, Alipay auth codes) ----------------------


class CodeRefused(IntegrationError):
    """The one-time code the client brought cannot log anyone in; the client must start over."""

    code = "invalid_credentials"
    # 401: the credential presented does not authenticate; the client must obtain a new one.
    http_status = 401
    default_message = "登录凭证无效，请重新登录"


class CodeInvalid(CodeRefused):
    """Unknown, expired or another app's code (WeChat 40029, Alipay isv.code-invalid): they look alike."""

    code = "code_invalid"


class CodeUsed(CodeRefused):
    code = "code_used"
    default_message = "登录凭证已使用，请重新登录"


# --- Input the upstream refused as malformed ---------------------------------------------------------


class InputRefused(IntegrationError):
    """The upstream refused a field as malformed. It answers with the same code and message as the
    domain's own check of that field (which normally catches it first); ``details["field"]`` names it."""

    code = "invalid_input"
    http_status = 422
    default_message = "输入内容格式不正确"
    _FIELDS = {
        "id_number": ("invalid_id_number", "身份证号码格式不正确"),
        "uscc": ("invalid_uscc", "统一社会信用代码格式不正确"),
        "phone": ("invalid_phone", "手机号码格式不正确"),
    }

    def __init__(self, field: str) -> None:
        self.code, message = self._FIELDS.get(field, (self.code, self.default_message))
        super().__init__(message, details={"field": field})
