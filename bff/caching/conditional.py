"""HTTP validators for every GET: an ETag, and 304 on a matching ``If-None-Match``.

``If-None-Match`` uses weak comparison (RFC 9110 §13.1.2), so ``W/"x"`` matches ``"x"``.
flask-smorest's own ETag check compares strongly and misses weak tags, hence this hook.
A 304 keeps the headers a 200 would have had (Cache-Control, ETag, Vary).
"""
from __future__ import annotations

import hashlib

from flask import Flask, Response, request

DEFAULT_GET_CACHE_CONTROL = "private, no-cache"


def public_cache_control(max_age_seconds: int) -> str:
    return f"public, max-age={max_age_seconds}"


def add_vary(response: Response, *headers: str) -> Response:
    """Name request headers the representation depends on (RFC 9110 §12.5.5), keeping any already
    listed; a 304 made from this response keeps the header."""
    # Plain string work: werkzeug's ``response.vary`` re-parses and re-serialises the header on every
    # add, which cost more than the rest of a cache hit.
    existing = response.headers.get("Vary")
    listed = [name.strip() for name in existing.split(",") if name.strip()] if existing else []
    known = {name.lower() for name in listed}
    listed.extend(header for header in headers if header.lower() not in known)
    if listed:
        response.headers["Vary"] = ", ".join(listed)
    return response


def _etag_for(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]


def _add_validators(response: Response) -> Response:
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        return response
    if response.direct_passthrough or response.is_streamed or not response.is_json:
        return response
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = DEFAULT_GET_CACHE_CONTROL
    etag = response.get_etag()[0] or _etag_for(response.get_data())
    response.set_etag(etag)
    if request.if_none_match.contains_weak(etag):
        response.status_code = 304
        response.set_data(b"")
        response.headers.pop("Content-Length", None)
        response.headers.pop("Content-Type", None)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_validators)
