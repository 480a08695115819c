"""Domain exceptions of ``catalog/``: each a ``kernel.errors.DomainError`` with a stable snake_case ``code``,
its ``http_status``, a human-readable ``message`` and JSON-ready ``details``.

A well-formed request with a field the catalogue cannot serve (unknown region or department, a query of
only spaces, a page past the end) is 422 like every other field-level refusal; 400 is for requests that
cannot be read at all (the HTTP layer's own)."""
from __future__ import annotations

from typing import Any

from kernel.errors import DomainError


class CatalogError(DomainError):
    code = "catalog_error"
    http_status = 422

    def __init__(self, message: str, *, details: dict[str, Any] | None = None,
                 code: str | None = None) -> None:
        super().__init__(message, details=details)
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class UnknownRegion(CatalogError):
    code = "unknown_region"


class ItemNotFound(CatalogError):
    code = "item_not_found"
    http_status = 404


class ThemeNotFound(CatalogError):
    code = "theme_not_found"
    http_status = 404


class InvalidQuery(CatalogError):
    code = "invalid_query"


class InvalidPagination(CatalogError):
    code = "invalid_pagination"


class UnknownFilterValue(CatalogError):
    """`code` names the filter: unknown_department, unknown_item_type,
    unknown_audience, unknown_online_depth, unknown_theme."""

    def __init__(self, field: str, value: Any, allowed: list[Any]) -> None:
        super().__init__(
            f"未知的{field}取值: {value!r}",
            details={"field": field, "value": value, "allowed": allowed},
            code=f"unknown_{field}",
        )


class IndexUnavailable(CatalogError, FileNotFoundError):
    """No published index at the given directory (run `python -m catalog build`).
    Also a FileNotFoundError: for callers it is a missing file, not a bad request."""
    code = "index_unavailable"
    http_status = 503
