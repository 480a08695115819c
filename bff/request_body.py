"""One gate for every request body: size, transport errors and JSON, before any view runs.

Why a gate rather than per-view care: webargs, ``request.get_json`` and the WeChat callback each read
bodies their own way, and a hostile body must get the same clean 4xx on every route, signed in or
not. ``check_body`` (a ``before_request`` hook) reads the body once, under ``MAX_BODY_BYTES``:

* larger than the limit (declared ``Content-Length`` or a chunked body that keeps going) → 413
  ``payload_too_large``;
* a body the server cannot read (malformed ``Transfer-Encoding: chunked`` sizes, truncated chunks;
  gunicorn raises its own parse errors from ``wsgi.input``) → 400 ``malformed_body``;
* a JSON body (``application/json`` or ``+json``) is parsed through the app's JSON provider: nesting
  deeper than ``MAX_JSON_DEPTH`` or anything that is not JSON → 400 ``invalid_json``.

The depth is checked *before* ``json.loads``: the C parser recurses per level and raises
``RecursionError`` near depth 1000, and structures a few hundred levels deep break marshmallow and
the serialiser later. Our bodies never nest more than a handful of levels. The check costs one
``bytes.count`` per body unless the body holds more brackets than the limit, and then one regex
pass that skips strings.

Chunked bodies are read by ``_RequestInput`` (WSGI middleware) before Flask: up to the limit plus one
byte, then handed on as an ordinary body with a ``Content-Length``. Werkzeug would otherwise cut a
chunked body at the limit without saying so, and gunicorn's framing errors would surface from
whichever view happened to read first.

The read body stays cached on the request, so views (and webargs, which parses the same document
again) never touch the raw stream.
"""
from __future__ import annotations

import io
import json
import re
from typing import Any, Callable, Iterable

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge

from bff.errors import ApiError

# JSON endpoints need a few kilobytes; the biggest legitimate bodies are campaign drafts and WeChat's
# pushed events (≤ 64 KB by our own rule in push.wechat_events).
MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class JSONTooDeep(json.JSONDecodeError):
    """A ``JSONDecodeError`` so every caller that already handles bad JSON handles this too."""

    def __init__(self, doc: str) -> None:
        super().__init__(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", doc, 0)


def too_deep(data: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``data`` opens more than ``limit`` arrays/objects at once (strings are skipped).

    Unbalanced input counts by what it opens; it is refused either way.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for match in _TOKENS.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


class BffJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with the nesting limit applied to everything parsed through ``app.json``."""

    ensure_ascii = False
    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if too_deep(s):
            raise JSONTooDeep(s if isinstance(s, str) else "")
        try:
            return super().loads(s, **kwargs)
        except RecursionError:  # belt and braces: a provider caller bypassing too_deep's bound
            raise JSONTooDeep("") from None


def _invalid_json(reason: str) -> ApiError:
    return ApiError(400, "invalid_json", "请求内容不是有效的 JSON (the body is not valid JSON)",
                    errors={"json": [reason]})


_BODY_ERROR = "msb.body_error"  # set by _RequestInput: "too_large" or "malformed"


def check_body() -> None:
    problem = request.environ.get(_BODY_ERROR)
    if problem == "too_large":
        raise _too_large()
    if problem == "malformed":
        raise _malformed()
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise _too_large()
    if not length:
        return
    try:
        data = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise _too_large() from None
    except ClientDisconnected:  # fewer bytes than Content-Length promised
        raise _malformed() from None
    except HTTPException:
        raise
    except Exception:  # the server's body reader (gunicorn's parse errors, a reset connection)
        raise _malformed() from None
    if data and request.is_json:
        request.get_json()  # _Request.on_json_loading_failed turns any failure into invalid_json


def drop_empty_query_values(query: str) -> str:
    """``a=&b=1&c`` → ``b=1``: an empty query value means the parameter is absent, on every route
    (clients build URLs from templates and send ``region=`` for "no region")."""
    parts = query.split("&")
    kept = [part for part in parts if part.partition("=")[2]]
    return query if len(kept) == len(parts) else "&".join(kept)


class _RequestInput:
    """Before Flask: empty query values dropped; a ``Transfer-Encoding: chunked`` body read up front,
    bounded, and passed on with a length."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        query = environ.get("QUERY_STRING")
        if query:
            environ["QUERY_STRING"] = drop_empty_query_values(query)
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            data = b""
            try:
                stream = environ["wsgi.input"]
                while len(data) <= MAX_BODY_BYTES:
                    chunk = stream.read(MAX_BODY_BYTES + 1 - len(data))
                    if not chunk:
                        break
                    data += chunk
            except Exception:  # gunicorn: InvalidChunkSize, ChunkMissingTerminator, NoMoreData …
                environ[_BODY_ERROR] = "malformed"
                data = b""
            if len(data) > MAX_BODY_BYTES:
                environ[_BODY_ERROR] = "too_large"
                data = b""
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)


def _malformed() -> ApiError:
    return ApiError(400, "malformed_body", "请求内容无法读取 (the request body is malformed or incomplete)")


def _too_large() -> ApiError:
    return ApiError(413, "payload_too_large", f"请求内容过大 (the body exceeds {MAX_BODY_BYTES // 1024} KB)",
                    errors={"body": [f"at most {MAX_BODY_BYTES} bytes"]})


class _Request(Flask.request_class):  # type: ignore[misc, valid-type]
    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if isinstance(e, JSONTooDeep):
            raise _invalid_json(f"nested deeper than {MAX_JSON_DEPTH} levels")
        if e is not None:
            raise _invalid_json("not valid JSON")
        return super().on_json_loading_failed(e)


def init_app(app: Flask) -> None:
    """Install the provider, the request class, the size limit and the gate (after the request log,
    so refused bodies are logged with their request id)."""
    app.json_provider_class = BffJSONProvider
    app.json = BffJSONProvider(app)
    app.request_class = _Request
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.before_request(check_body)
    app.wsgi_app = _RequestInput(app.wsgi_app)
