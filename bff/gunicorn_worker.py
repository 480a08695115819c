"""gunicorn's gthread worker, with its own error pages replaced by the API's error envelope.

gunicorn answers requests it cannot parse itself, before the app sees them (request line over
``limit_request_line``, a header over ``limit_request_field_size``, control characters in headers,
bad chunked framing before the app reads it …), with a small HTML page. Clients of this API parse
every error as the JSON envelope of ``bff.errors``, so the worker writes that instead: same status,
a stable machine code, nothing echoed from the request (gunicorn's own message quotes the offending
header, which may be personal). Configured in gunicorn.conf.py as ``worker_class``.
"""
from __future__ import annotations

import json
from http import HTTPStatus

from gunicorn.workers.gthread import ThreadWorker

from bff.caching.headers import NO_STORE

# The same no-store headers as every other error (bff.caching.headers), as raw header lines.
_NO_STORE_LINES = "".join(f"{name}: {value}\r\n" for name, value in NO_STORE.items())
# gunicorn's statuses for refused requests -> our machine codes.
_CODES = {
    400: "malformed_request",
    403: "forbidden",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    500: "internal_error",
    501: "unsupported_transfer_coding",
}
_MESSAGES = {
    400: "请求格式不正确 (the request line, a header or the body framing is malformed)",
    414: "请求地址过长 (the URL is too long)",
    431: "请求头过大 (a request header or the header section is too large)",
}


def envelope_bytes(status: int) -> bytes:
    phrase = HTTPStatus(status).phrase
    body = json.dumps({
        "code": status,
        "status": phrase,
        "message": _MESSAGES.get(status, phrase),
        "error": _CODES.get(status, "error"),
        "errors": {},
    }, ensure_ascii=False).encode("utf-8")
    head = (f"HTTP/1.1 {status} {phrase}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"{_NO_STORE_LINES}Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


class _Capture:
    """Stands in for the client socket while gunicorn writes its HTML error, to learn the status."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def setblocking(self, flag: bool) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.data += data

    def send(self, data: bytes) -> int:
        self.data += data
        return len(data)


class EnvelopeThreadWorker(ThreadWorker):
    def handle_error(self, req, client, addr, exc):  # noqa: ANN001 (gunicorn's signature)
        capture = _Capture()
        # gunicorn keeps deciding the status (and logging the access line); only the page changes.
        super().handle_error(req, capture, addr, exc)
        try:
            status = int(capture.data.split(b" ", 2)[1])
            HTTPStatus(status)
        except (IndexError, ValueError):
            status = 500
        try:
            client.sendall(envelope_bytes(status))
        except Exception:  # the client went away; nothing more to tell it
            self.log.debug("Failed to send error message.")
