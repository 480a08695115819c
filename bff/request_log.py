"""Access logs: one JSON line per request with its request id (formatting and redaction: ``kernel.logging``)."""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from kernel.logging import JsonFormatter, configure_logging, redact  # noqa: F401  (re-exported)

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

access_log = logging.getLogger("msb.request")


def request_id_from(incoming: str) -> str | None:
    """The client's request id when it is safe to echo and log, else None."""
    return incoming if _VALID_REQUEST_ID.match(incoming) else None


def _start_request() -> None:
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER, "")) or uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    request_id = getattr(g, "request_id", None) or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    started = getattr(g, "request_started", None)
    duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
    # The path only: query strings carry what citizens typed, which may be personal.
    access_log.info(
        "request",
        extra={
            "fields": {
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "request_id": request_id,
                "channel": getattr(g, "client_channel", None),
            }
        },
    )
    return response


def log_hot_request(environ: dict, request_id: str, started: float) -> None:
    """The access line of a request answered by ``bff.caching.hot_path`` (before Flask)."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    access_log.info(
        "request",
        extra={
            "fields": {
                "method": environ.get("REQUEST_METHOD"),
                "path": environ.get("PATH_INFO"),
                "status": 200,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "request_id": request_id,
                "channel": environ.get("HTTP_X_CLIENT_CHANNEL"),
                "cache": "hot",
            }
        },
    )


def init_app(app: Flask) -> None:
    app.before_request(_start_request)
    app.after_request(_finish_request)
