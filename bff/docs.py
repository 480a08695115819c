"""Serve the Swagger UI assets ourselves: the docs page must work on a network with no CDN."""
from __future__ import annotations

from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

STATIC_URL = "/docs/static/"

bp = Blueprint("docs_assets", __name__)


@bp.get(STATIC_URL + "<path:filename>")
def swagger_asset(filename: str):
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
