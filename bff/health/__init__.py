"""Liveness and readiness probes."""
from bff.health.views import blp

__all__ = ["blp"]
