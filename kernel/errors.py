"""The one domain error every package's exceptions derive from.

Each subclass carries a stable snake_case ``code`` clients may switch on, the intended ``http_status``
(read by the HTTP layer's single mapping), a short Chinese ``message`` that never contains personal
data, machine-readable non-personal ``details`` and response ``headers`` such as ``Retry-After``.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "domain_error"
    http_status = 400
    default_message = "请求无法处理"

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.message = message or self.default_message
        self.details = dict(details or {})
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r})"


class StoreUnavailable(DomainError):
    """A backing store (Redis, PostgreSQL…) is down, hung, or behind an open circuit breaker
    (``kernel.breaker``): the request failed fast and may be retried after ``Retry-After`` seconds."""

    code = "store_unavailable"
    http_status = 503
    default_message = "服务暂时繁忙，请稍后再试 (a backing store is unavailable)"

    def __init__(self, store: str, retry_after: int = 1, message: str | None = None) -> None:
        super().__init__(message, details={"store": store}, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.store = store
        self.retry_after = max(1, int(retry_after))
