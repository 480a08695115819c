"""Catalogue endpoints: search, suggest, hot items, item detail, 一件事 themes, regions."""
from bff.catalog.views import blp

__all__ = ["blp"]
