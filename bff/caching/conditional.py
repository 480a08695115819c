"""HTTP validators for every GET: an ETag, and 304 on a matching ``If-None-Match``.

``If-None-Match`` uses weak comparison (RFC 9110 §13.1.2), so ``W/"x"`` matches ``"x"``.
flask-smorest's own ETag check compares strongly and misses weak tags, hence this hook.
A 304 keeps the headers a 200 would have had (Cache-Control, ETag, Vary).
"""
from __future__ import annotations

from flask import Flask, Response, request

from bff.caching.headers import DEFAULT_GET
from bff.caching.response_entries import etag_for


def _add_validators(response: Response) -> Response:
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        return response
    if response.direct_passthrough or response.is_streamed or not response.is_json:
        return response
    if "Cache-Control" not in response.headers:
        response.headers.update(DEFAULT_GET)
    etag = response.get_etag()[0] or etag_for(response.get_data())
    response.set_etag(etag)
    if request.if_none_match.contains_weak(etag):
        response.status_code = 304
        response.set_data(b"")
        response.headers.pop("Content-Length", None)
        response.headers.pop("Content-Type", None)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_validators)
