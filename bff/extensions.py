"""Module-level singletons with ``init_app``, so blueprints import them without a running app."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import redis
from flask import Flask
from flask_smorest import Api
from marshmallow import Schema, fields

from kernel.redis import redis_client

if TYPE_CHECKING:
    from catalog.service import Catalogue

log = logging.getLogger("msb.extensions")


class ErrorEnvelopeSchema(Schema):
    """The one error envelope, as published in the OpenAPI document."""

    code = fields.Integer(required=True, metadata={"example": 404})
    status = fields.String(required=True, metadata={"example": "Not Found"})
    message = fields.String(required=True)
    error = fields.String(required=True, metadata={"description": "stable snake_case machine code", "example": "item_not_found"})
    errors = fields.Dict(required=True, metadata={"description": "details per field or per check"})


_ENVELOPE_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
# Statuses any operation can answer, whatever its view does (bff.request_body, bff.client_context,
# the router, http_cache, Redis), with the machine codes behind them.
COMMON_RESPONSES = {
    "400": "`invalid_json` (not JSON, or nested deeper than 32 levels), `malformed_body` (unreadable or "
           "badly framed body), `invalid_client_channel` / `invalid_client_mode` (X-Client-Channel / "
           "X-Client-Mode not one of the documented values; empty means absent)",
    "413": "`payload_too_large`: the body exceeds 64 KB (declared or chunked)",
    "503": "`store_unavailable` / `catalogue_unavailable`: a backing store is down or loading (`Retry-After`)",
}
PATH_PARAMETER_RESPONSE = ("404", "`not_found`: nothing at this path (or a path segment the route cannot take)")


class BffApi(Api):
    ERROR_SCHEMA = ErrorEnvelopeSchema
    # No catch-all `default` response: every status an operation can answer is listed, so a contract
    # test can tell an undeclared status from a declared one.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def declare_common_responses(self) -> None:
        """Add what every operation can answer to each one (call after registering the blueprints).

        Also marks optional query parameters ``allowEmptyValue``: ``?region=`` means no region
        (``bff.request_body`` drops empty query values before anything reads them).
        """
        for path, item in self.spec._paths.items():  # noqa: SLF001 - apispec keeps no public mutable view
            for method, operation in item.items():
                if method not in ("get", "put", "post", "patch", "delete"):
                    continue
                responses = operation.setdefault("responses", {})
                common = dict(COMMON_RESPONSES)
                if path == "/healthz":
                    common.pop("503")
                if "{" in path:
                    common[PATH_PARAMETER_RESPONSE[0]] = PATH_PARAMETER_RESPONSE[1]
                for status, description in common.items():
                    existing = responses.get(status)
                    if existing is None:
                        responses[status] = {"description": description,
                                             "content": {"application/json": {"schema": _ENVELOPE_REF}}}
                    elif isinstance(existing, dict) and "description" in existing and description not in existing["description"]:
                        existing["description"] = f"{existing['description']}; {description}"
                if method == "get":
                    responses.setdefault("304", {"description": "Not Modified: `If-None-Match` matched the ETag"})
                for parameter in operation.get("parameters", []):
                    if isinstance(parameter, dict) and parameter.get("in") == "query" and not parameter.get("required"):
                        parameter["allowEmptyValue"] = True


api = BffApi()


class RedisStore:
    """One connection pool per process; short timeouts so a dead Redis fails fast (503, not a hang)."""

    def __init__(self) -> None:
        self._client: redis.Redis | None = None

    def init_app(self, app: Flask, url: str) -> None:
        self._client = redis_client(url)
        app.extensions["redis_store"] = self

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            raise RuntimeError("RedisStore used before init_app")
        return self._client


class CatalogueUnavailable(Exception):
    code = "catalogue_unavailable"
    message = "服务事项目录正在加载，请稍后再试 (the catalogue index is not loaded)"
    headers = {"Retry-After": "10"}


class CatalogueHolder:
    """Opens the search index lazily and picks up atomic rebuilds without a restart."""

    _RELOAD_CHECK_SECONDS = 2.0

    def __init__(self) -> None:
        self._index_dir: Path | None = None
        self._catalogue: "Catalogue | None" = None
        self._last_check = 0.0
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def init_app(self, app: Flask, index_dir: Path) -> None:
        self._index_dir = index_dir
        self._catalogue = None
        app.extensions["catalogue"] = self

    def _open(self) -> "Catalogue | None":
        from catalog.service import Catalogue

        try:
            catalogue = Catalogue.open(self._index_dir)
        except FileNotFoundError:
            self.last_error = "index not built (run `make index`)"
            return None
        self.last_error = None
        return catalogue

    def get(self) -> "Catalogue":
        catalogue = self._catalogue
        now = time.monotonic()
        if catalogue is not None and now - self._last_check < self._RELOAD_CHECK_SECONDS:
            return catalogue
        with self._lock:
            self._last_check = now
            if self._catalogue is None:
                self._catalogue = self._open()
            else:
                self._catalogue.reload_if_changed()
            if self._catalogue is None:
                raise CatalogueUnavailable()
            return self._catalogue

    @property
    def loaded(self) -> bool:
        try:
            self.get()
        except CatalogueUnavailable:
            return False
        return True


class ResponseCacheHolder:
    """The process's ``bff.cache.ResponseCache`` (anonymous responses on Redis, see bff/cache/README.md).

    Built by ``init_app``; a new app (tests) closes the previous cache. Attribute access is
    forwarded, so ``response_cache.get_or_compute(...)`` and ``response_cache.invalidate_tag(...)``
    work on the module-level singleton.
    """

    def __init__(self) -> None:
        self._cache = None

    def init_app(self, app: Flask, url: str) -> None:
        from bff.cache import ResponseCache

        previous, self._cache = self._cache, ResponseCache(url)
        if previous is not None:
            previous.close()
        app.extensions["response_cache"] = self

    @property
    def cache(self):
        if self._cache is None:
            raise RuntimeError("ResponseCacheHolder used before init_app")
        return self._cache

    def __getattr__(self, name: str):
        return getattr(self.cache, name)


redis_store = RedisStore()
catalogue_holder = CatalogueHolder()
response_cache = ResponseCacheHolder()
