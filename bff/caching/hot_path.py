"""Anonymous public cache hits answered before Flask, from this process's memory.

A public answer produced by the response cache (``bff.caching.views.respond``) is also remembered here
for ``Settings.hot_path_seconds`` (``MSB_HOT_PATH_SECONDS``, 0 turns it off) under the *raw* request: path, query string, the three client-context headers as
sent and the catalogue build id. That is a superset of what the answer depends on, so a variant can
never reach another client. Requests that are not GET, carry ``Authorization`` (personal parts) or
``If-None-Match`` (304 handling) always go through Flask. The staleness bound is the same as the
response cache's own in-process layer; invalidations in this process clear it at once.

Why: a hit through Flask costs routing, context, hooks and header objects, more than the rest of the
request; the bench target is cached home/search throughput ≥ 0.8× a bare Flask JSON endpoint.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from typing import Any, Callable, Iterable

from werkzeug.wrappers import Response

from bff.caching.headers import is_public

MAX_ENTRIES = 2048
EXTENSION_KEY = "hot_path"
_VARIANT_HEADERS = ("HTTP_X_CLIENT_CHANNEL", "HTTP_X_CLIENT_MODE", "HTTP_ACCEPT_LANGUAGE")
_BYPASS_HEADERS = ("HTTP_AUTHORIZATION", "HTTP_IF_NONE_MATCH")


class HotPath:
    def __init__(self, ttl: float, max_entries: int = MAX_ENTRIES) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple, tuple[float, bytes, list[tuple[str, str]]]] = OrderedDict()
        self._lock = threading.Lock()
        self._version: Callable[[], str | None] = lambda: None

    def install(self, app: Any, version: Callable[[], str | None]) -> None:
        """Wrap the app's WSGI callable; ``version`` gives the live catalogue build id (or None)."""
        self._version = version
        app.extensions[EXTENSION_KEY] = self
        app.wsgi_app = _Middleware(app.wsgi_app, self)

    def _signature(self, environ: dict) -> tuple | None:
        if environ.get("REQUEST_METHOD") != "GET" or any(name in environ for name in _BYPASS_HEADERS):
            return None
        try:
            version = self._version()
        except Exception:  # no catalogue: let Flask answer (503)
            return None
        return (environ.get("PATH_INFO"), environ.get("QUERY_STRING", ""), version,
                *(environ.get(name) for name in _VARIANT_HEADERS))

    def remember(self, environ: dict, response: Response) -> None:
        signature = self._signature(environ)
        if signature is None or response.status_code != 200:
            return
        if not is_public(response.headers.get("Cache-Control")):
            return
        headers = [(name, "hot" if name == "X-Cache" else value)
                   for name, value in response.headers.items() if name != "Content-Length"]
        with self._lock:
            self._entries[signature] = (time.monotonic() + self._ttl, response.get_data(), headers)
            self._entries.move_to_end(signature)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def lookup(self, environ: dict) -> tuple[bytes, list[tuple[str, str]]] | None:
        signature = self._signature(environ)
        if signature is None:
            return None
        entry = self._entries.get(signature)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1], entry[2]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class _Middleware:
    def __init__(self, wsgi_app: Callable, hot_path: HotPath) -> None:
        self._wsgi_app = wsgi_app
        self._hot_path = hot_path

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        found = self._hot_path.lookup(environ)
        if found is None:
            return self._wsgi_app(environ, start_response)
        from bff.metrics import observe_request
        from bff.request_log import log_hot_request, request_id_from

        started = time.perf_counter()
        body, headers = found
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID", "")) or uuid.uuid4().hex
        start_response("200 OK", [*headers, ("Content-Length", str(len(body))), ("X-Request-ID", request_id)])
        log_hot_request(environ, request_id, started)
        observe_request("hot_path", "GET", 200, started, "hot")
        return [body]


def of(app: Any) -> HotPath | None:
    """The app's hot path, or None when ``MSB_HOT_PATH_SECONDS`` is 0."""
    return app.extensions.get(EXTENSION_KEY)
