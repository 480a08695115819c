"""``GET /metrics`` for Prometheus: the multi-process aggregate of every worker and the push worker.

Not public. It answers only with ``Authorization: Bearer <MSB_METRICS_TOKEN>`` (compared in constant
time) and is absent (404) when no token is configured; it stays out of the OpenAPI document. A
fronting proxy must not route /metrics from the internet at all (README); the token is the second
lock, because behind a same-host proxy every request looks like loopback.
"""
from __future__ import annotations

import hmac
import os
import time

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from bff.caching.headers import NO_STORE
from kernel.metrics import CACHE_LOOKUPS, HTTP_LATENCY, HTTP_REQUESTS

bp = Blueprint("metrics", __name__)


def _aggregate_registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


class _QueueDepthCollector:
    """Dispatch queue depth read at scrape time, so no process has to keep a gauge current."""

    def __init__(self, queue_depths) -> None:
        self._queue_depths = queue_depths

    def collect(self):
        family = GaugeMetricFamily("msb_push_queue_depth", "Messages waiting per dispatch queue.", labels=["queue"])
        try:
            for queue, depth in self._queue_depths().items():
                family.add_metric([queue], depth)
        except Exception:  # a store outage must not break the scrape of everything else
            pass
        yield family


@bp.get("/metrics")
def metrics() -> Response:
    expected = os.environ.get("MSB_METRICS_TOKEN", "")
    if not expected:
        abort(404)
    presented = request.headers.get("Authorization", "")
    if not hmac.compare_digest(presented.encode(), f"Bearer {expected}".encode()):
        abort(404)
    body = generate_latest(_aggregate_registry())
    queue_depths = current_app.extensions.get("metrics_queue_depths")
    if queue_depths is not None:
        scrape_time = CollectorRegistry()
        scrape_time.register(_QueueDepthCollector(queue_depths))
        body += generate_latest(scrape_time)
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers=dict(NO_STORE))


def observe_request(route: str, method: str, status: int, started: float | None, cache_layer: str | None) -> None:
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    if started is not None:
        HTTP_LATENCY.labels(route, method).observe(time.perf_counter() - started)
    if cache_layer:
        CACHE_LOOKUPS.labels(cache_layer).inc()


def _after_request(response: Response) -> Response:
    rule = request.url_rule
    route = rule.rule if rule is not None else "unmatched"
    if route != "/metrics":
        observe_request(route, request.method, response.status_code, getattr(g, "request_started", None),
                        response.headers.get("X-Cache"))
    return response


def init_app(app: Flask, queue_depths=None) -> None:
    if queue_depths is not None:
        app.extensions["metrics_queue_depths"] = queue_depths
    app.register_blueprint(bp)
    app.after_request(_after_request)
