"""Prometheus metrics every process records (API workers, the push worker), defined in one place.

Under gunicorn each worker is its own process: ``PROMETHEUS_MULTIPROC_DIR`` (set by gunicorn.conf.py
and scripts/run.sh before any worker imports this module) makes prometheus_client write per-process
files that the API's ``/metrics`` aggregates, the push worker's included. Label values are bounded
sets (route templates, channels, outcomes): never ids, phones or anything a caller chooses freely.
"""
from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "msb_http_requests_total", "HTTP requests answered, by route template and status.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "msb_http_request_duration_seconds", "Time from request start to response, by route template.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CACHE_LOOKUPS = Counter(
    "msb_cache_lookups_total", "Cached GETs by the layer that answered (hot, local, hit, stale, miss, bypass).",
    ["layer"],
)
STORE_ERRORS = Counter(
    "msb_store_errors_total", "Store calls that failed, by store and kind (timeout, connection, other).",
    ["store", "kind"],
)
LOGINS = Counter("msb_logins_total", "Login attempts by channel and outcome.", ["channel", "outcome"])
PUSH_SENDS = Counter(
    "msb_push_sends_total", "Messages handed to a channel, by channel and outcome (sent, retry, failed, unknown).",
    ["channel", "outcome"],
)
CAMPAIGN_TRANSITIONS = Counter(
    "msb_campaign_transitions_total", "Campaign lifecycle changes by the state entered.", ["state"],
)


def store_error_kind(exc: BaseException) -> str:
    name = type(exc).__name__.lower()
    if "timeout" in name:
        return "timeout"
    if "connection" in name:
        return "connection"
    return "other"
