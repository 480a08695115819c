from __future__ import annotations

import time

import redis.exceptions
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from bff.errors import ApiError
from bff.extensions import services
from catalog.live import CatalogueUnavailable
from bff.health.schemas import LivenessSchema, ReadinessSchema
from bff.health.script_probe import ScriptProbe
from kernel.breaker import CLOSED
from kernel.errors import StoreUnavailable

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


@blp.route("/healthz")
class Liveness(MethodView):
    @blp.response(200, LivenessSchema)
    def get(self):
        """The process is alive (no dependency is checked)."""
        return {"status": "ok"}


def _script_probe() -> ScriptProbe:
    extensions = current_app.extensions
    if "redis_script_probe" not in extensions:
        extensions["redis_script_probe"] = ScriptProbe(services().redis)
    return extensions["redis_script_probe"]


def _redis_store() -> dict:
    """Redis as this process sees it: a PING through the store's circuit breaker (so an open breaker is
    reported without waiting on a hung Redis, and a failing PING counts towards opening it), then
    whether it runs our scripts (a cluster refusing a two-key script is not ready; see script_probe)."""
    started = time.perf_counter()
    try:
        services().redis.ping()
        status = _script_probe().check()
    except StoreUnavailable:
        status = "unavailable (circuit breaker open)"
    except redis.exceptions.RedisError as exc:
        status = f"unavailable ({type(exc).__name__})"
    return _store_report(status, started, services().breakers.get("redis"))


def _postgres_store() -> dict:
    """PostgreSQL: ``SELECT 1`` through the pool and its breaker, bounded by the pool's deadlines."""
    started = time.perf_counter()
    status = "ok" if services().database.ping() else "unavailable"
    return _store_report(status, started, services().breakers.get("postgres"))


def _store_report(status: str, started: float, breaker) -> dict:
    """A store's entry: its status, the probe's latency and its breaker's state (read once). A breaker that
    is not closed makes a store not ready even if this probe got through (or names why it did not)."""
    store = {"status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    if breaker is not None:
        state = breaker.state
        store["breaker"] = state
        if state != CLOSED and status in ("ok", "unavailable"):
            store["status"] = f"unavailable (circuit breaker {state})"
    return store


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, description="A store or the catalogue is not ready (a store's circuit breaker open "
                                       "counts): `errors` names which, with each store's state")
    def get(self):
        """Each backing store answers through its circuit breaker, and the search index is loaded."""
        stores = {"redis": _redis_store(), "postgres": _postgres_store()}
        checks: dict[str, str] = {name: store["status"] for name, store in stores.items()}
        version = None
        try:
            version = services().catalogue.get().version
            checks["catalogue"] = "ok"
        except CatalogueUnavailable:
            checks["catalogue"] = services().catalogue.last_error or "not loaded"
        failing = {name: state for name, state in checks.items() if state != "ok"}
        if failing:
            raise ApiError(503, "not_ready", "服务尚未就绪 (not ready)", errors=failing, headers={"Retry-After": "1"})
        return {"status": "ready", "checks": checks, "stores": stores, "catalogue_version": version}
