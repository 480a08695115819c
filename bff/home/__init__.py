"""``GET /v1/home``: the whole home screen of a channel in one request (see bff/home/views.py)."""
from bff.home.views import blp

__all__ = ["blp"]
