"""Domain exceptions. `code` is a stable snake_case identifier the HTTP layer
maps to a 4xx status; `message` is human-readable; `details` is JSON-ready."""
from __future__ import annotations

from typing import Any


class CatalogError(Exception):
    code = "catalog_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class UnknownRegion(CatalogError):
    code = "unknown_region"


class ItemNotFound(CatalogError):
    code = "item_not_found"


class ThemeNotFound(CatalogError):
    code = "theme_not_found"


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
