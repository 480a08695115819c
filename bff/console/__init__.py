"""The operator console: static HTML + CSS + ES modules over the admin API, served at ``/console``.

A plain Flask blueprint (not part of the OpenAPI spec). No build step, no CDN: every asset lives in
``bff/console/static``. Pages carry a strict CSP (``default-src 'self'``, no inline script or style),
so the console can only talk to this BFF. Tokens live in the page (sessionStorage), never in cookies,
so there is no CSRF surface here.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, redirect, send_from_directory

from bff.caching.headers import REVALIDATE

STATIC_DIR = Path(__file__).with_name("static")

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

bp = Blueprint("console", __name__, url_prefix="/console")


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    for name, value in REVALIDATE.items():
        response.headers.setdefault(name, value)
    return response


@bp.get("")
def console_root():
    return redirect("/console/", code=308)


@bp.get("/")
def console_page():
    return send_from_directory(STATIC_DIR, "index.html", max_age=0)


@bp.get("/static/<path:filename>")
def console_asset(filename: str):
    # no-cache + the app's ETag: operators always get the current build, revalidated cheaply.
    return send_from_directory(STATIC_DIR, filename, max_age=0)
