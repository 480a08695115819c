from __future__ import annotations

import redis.exceptions
from flask.views import MethodView
from flask_smorest import Blueprint

from bff.errors import ApiError
from bff.extensions import services
from catalog.live import CatalogueUnavailable
from bff.health.schemas import LivenessSchema, ReadinessSchema

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


@blp.route("/healthz")
class Liveness(MethodView):
    @blp.response(200, LivenessSchema)
    def get(self):
        """The process is alive (no dependency is checked)."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, description="A dependency is not ready; `errors` names which")
    def get(self):
        """Redis answers and the search index is loaded."""
        checks: dict[str, str] = {}
        try:
            services().redis.ping()
            checks["redis"] = "ok"
        except redis.exceptions.RedisError as exc:
            checks["redis"] = f"unavailable ({type(exc).__name__})"
        version = None
        try:
            version = services().catalogue.get().version
            checks["catalogue"] = "ok"
        except CatalogueUnavailable:
            checks["catalogue"] = services().catalogue.last_error or "not loaded"
        failing = {name: state for name, state in checks.items() if state != "ok"}
        if failing:
            raise ApiError(503, "not_ready", "服务尚未就绪 (not ready)", errors=failing, headers={"Retry-After": "5"})
        return {"status": "ready", "checks": checks, "catalogue_version": version}
