"""A minimal JSON POST for push's high-rate sends (WeChat subscribe messages, the APP push gateway):
keep-alive connections, a timeout, no URL in any log line or exception (WeChat puts the access_token
in the query string).

``http.client`` directly (earlier: urllib3, itself on ``http.client``; before that ``requests`` at
0.91 ms of client CPU per send): the push dispatcher must mark a send "on the wire" after the
connection is up and immediately before the request is written (``before_write``), which pooled
clients do not let a caller do. Nothing is retried here: the dispatcher owns retries, because a blind
transport retry of a send that did reach WeChat would duplicate it.
"""
from __future__ import annotations

import http.client
import json
import logging
import select
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any, Mapping
from urllib.parse import urlencode, urlsplit

log = logging.getLogger("msb.integrations.json_http")


class TransportError(Exception):
    """No usable answer: connection failure, timeout, 5xx or a non-JSON body. Always retryable."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Withdrawn(Exception):
    """``before_write`` refused: the request was not written (nothing left this process)."""


class JsonHttp:
    """One keep-alive connection per thread and host (the dispatcher's send threads each hold one)."""

    def __init__(self) -> None:
        # One connection per sending thread: there is no pool to size.
        self._local = threading.local()
        self._tls = ssl.create_default_context()

    def post(self, url: str, *, timeout: float, params: Mapping[str, str] | None = None, json_body: Any = None,
             headers: Mapping[str, str] | None = None, endpoint: str,
             before_write: Callable[[], Callable[[], bool] | None] | None = None) -> tuple[int, Any]:
        """(HTTP status, parsed JSON) for any answer below 500 with a JSON body.

        ``before_write`` is called once the connection is up and the request is fully encoded, right
        before its single write (headers and body together). It returns None to withdraw (nothing is
        written, ``Withdrawn`` is raised) or a function called right after the write. The push
        dispatcher hands its wire mark to the kernel there and reads the mark's answer after the
        write (``push.dispatcher``), so connecting, encoding and waits are never "on the wire"."""
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{urlencode(params)}" if params else (f"?{parts.query}" if parts.query else ""))
        body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        failure = None
        conn = None
        try:
            conn = self._connection(parts.scheme, parts.hostname or "", parts.port, timeout)
            after_write = before_write() if before_write is not None else None
            if before_write is not None and after_write is None:
                raise Withdrawn()
            conn.putrequest("POST", path, skip_accept_encoding=True)
            conn.putheader("Content-Type", "application/json; charset=utf-8")
            conn.putheader("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            try:
                conn.endheaders(body)  # one write: http.client joins headers and a bytes body
            finally:
                if after_write is not None:
                    after_write()  # must not raise (it settles the caller's own bookkeeping)
            response = conn.getresponse()
            data = response.read()
            status = response.status
        except (socket.timeout, TimeoutError):
            failure = "timeout"
        except (OSError, http.client.HTTPException):
            failure = "unreachable"
        if failure is not None:  # raised outside the except: the exception's text is not chained
            if conn is not None:
                conn.close()
            log.warning("push upstream unreachable", extra={"fields": {"endpoint": endpoint, "error": failure}})
            raise TransportError(failure)
        if status >= 500:
            log.warning("push upstream failed", extra={"fields": {"endpoint": endpoint, "status": status}})
            raise TransportError(f"http_{status}")
        try:
            parsed = json.loads(data)
        except ValueError:
            raise TransportError(f"http_{status}_not_json") from None
        return status, parsed

    def _connection(self, scheme: str, host: str, port: int | None, timeout: float) -> http.client.HTTPConnection:
        connections: dict[tuple[str, str, int | None], http.client.HTTPConnection] = self._local.__dict__.setdefault("c", {})
        key = (scheme, host, port)
        conn = connections.get(key)
        if conn is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls)
            else:
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            connections[key] = conn
        if conn.sock is not None and _dropped(conn.sock):
            conn.close()  # the server closed the idle keep-alive connection: reconnect before writing
        conn.timeout = timeout
        if conn.sock is None:
            conn.connect()
        else:
            conn.sock.settimeout(timeout)
        return conn


def _dropped(sock: socket.socket) -> bool:
    """An idle keep-alive socket that is readable was closed (or spoke out of turn) by the server."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
