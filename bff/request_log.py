"""JSON logs: one line per request, request ids, and a last-line-of-defence redactor.

Personal data must never reach a log line (PIPL). Code is expected not to log it in the first place;
the redactor additionally masks anything shaped like an ID number, a mobile number or a token,
because a single mistake in a log call would otherwise be permanent.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

_SENSITIVE_PATTERNS = [
    # JWTs and other long base64url tokens.
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[token]"),
    # 18-digit resident ID numbers (last character may be X).
    (re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"), "[id_number]"),
    # Mainland mobile numbers, with or without +86.
    (re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)"), "[phone]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SENSITIVE_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(level: str) -> None:
    """Route every logger through one JSON handler on stderr (gunicorn collects it)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_msb_json", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._msb_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # werkzeug's own access log duplicates ours and includes query strings.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


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
    """The access line of a request answered by ``bff.hot_path`` (before Flask)."""
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
