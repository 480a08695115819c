"""The one error envelope, and every exception mapped to it in one place.

Every error leaves as ``{"code", "status", "message", "error", "errors"}`` where ``error`` is a stable
snake_case machine code clients may switch on. Domain packages raise subclasses of the kernel's
``DomainError`` (they never import Flask), which state their own status; this module maps those, the
HTTP layer's own errors (webargs, werkzeug) and a failing store to the envelope.
"""
from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import redis.exceptions
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from bff.caching.headers import NO_STORE
from kernel.errors import DomainError

log = logging.getLogger("msb.errors")

# Statuses whose machine code is the same wherever they come from.
_DEFAULT_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    428: "precondition_required",
    429: "rate_limited",
    500: "internal_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "upstream_timeout",
}

# A Redis call that timed out or was refused before the breaker opened: the breaker (kernel.breaker) opens
# within a few such failures and probes again after a one-second cool-down, so retrying sooner than in
# a second or two is pointless and later is needlessly slow.
REDIS_RETRY_AFTER_SECONDS = 1


class ApiError(Exception):
    """Raised by views for a deliberate non-2xx answer with a specific machine code."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}


def error_response(
    status: int,
    message: str,
    *,
    error: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "message": message,
        "error": error or _DEFAULT_ERROR_CODES.get(status, "error"),
        "errors": errors or {},
    }
    response = jsonify(body)
    response.status_code = status
    response.headers.update(NO_STORE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _handle_api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.message, error=exc.error, errors=exc.errors, headers=exc.headers)


def _handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    errors = data.get("messages") or data.get("errors") or {}
    message = data.get("message") or exc.description or HTTPStatus(status).phrase
    if status == 422 and not data.get("message"):
        message = "The request parameters are invalid; see errors for each field."
    headers = dict(data.get("headers") or {})
    if status == 405 and exc.get_response().headers.get("Allow"):
        headers["Allow"] = exc.get_response().headers["Allow"]
    return error_response(status, message, error=data.get("error"), errors=errors, headers=headers)


def _handle_redis_down(exc: redis.exceptions.RedisError) -> Response:
    log.warning("redis unavailable", extra={"fields": {"error_class": type(exc).__name__}})
    return error_response(
        503,
        "服务暂时繁忙，请稍后再试 (a backing store is unavailable)",
        error="store_unavailable",
        headers={"Retry-After": str(REDIS_RETRY_AFTER_SECONDS)},
    )


def _handle_domain_error(exc: DomainError) -> Response:
    """Every domain package's errors derive from the kernel's ``DomainError``: status, code, message,
    details and headers all come from the exception, so this one handler is the whole mapping. That
    includes ``StoreUnavailable`` from an open circuit breaker (``kernel.redis.RedisUnavailable`` is also a
    redis ``ConnectionError``, but Flask picks the handler by the exception's MRO, DomainError first)."""
    return error_response(exc.http_status, exc.message, error=exc.code, errors=exc.details, headers=exc.headers)


def _handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _handle_http_exception(exc)
    # The class name only: messages of arbitrary exceptions may carry personal data.
    log.exception("unhandled exception", extra={"fields": {"error_class": type(exc).__name__}})
    return error_response(500, "服务内部错误，请稍后再试 (internal error)")


def register_error_handlers(app: Flask) -> None:
    """Install the envelope for every error; call after ``Api.init_app`` so ours win."""
    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(redis.exceptions.ConnectionError, _handle_redis_down)
    app.register_error_handler(redis.exceptions.TimeoutError, _handle_redis_down)
    app.register_error_handler(redis.exceptions.BusyLoadingError, _handle_redis_down)
    app.register_error_handler(Exception, _handle_unexpected)
