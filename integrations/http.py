"""The one way ``integrations`` talks HTTP (``requests``): pooled sessions, a timeout on every call, failures
mapped to ``UpstreamUnavailable``, and log lines that cannot leak anything.

What may be logged: the system, our name for the endpoint, the HTTP status, the upstream's error
code, the duration. Never the URL (WeChat puts ``secret`` and ``access_token`` in the query string),
never a body, code, phone, ID number, session key or token. Exceptions from ``requests`` carry the
full URL in their text, so they are never chained onto the errors raised here.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Mapping

import requests
from requests.adapters import HTTPAdapter

from integrations.errors import UpstreamUnavailable

log = logging.getLogger("msb.integrations")
# urllib3 logs every request line, query string included, at DEBUG: with MSB_LOG_LEVEL=DEBUG that
# would write WeChat's secret and access_token to the logs.
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)

# gunicorn runs 8 threads per worker; one pooled connection per thread avoids reconnecting under load.
DEFAULT_POOL_SIZE = 16


def pooled_session(pool_size: int = DEFAULT_POOL_SIZE) -> requests.Session:
    """A session with keep-alive pools and no automatic retries: retrying a one-time code exchange
    after a read timeout would only turn the user's valid code into "code used"."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def report(system: str, endpoint: str, upstream_code: object, *, level: int = logging.WARNING, reason: str | None = None) -> None:
    """Log an upstream error code. ``reason`` must be a fixed string of ours, never upstream text
    (Alipay's sub_msg echoes the signed request, codes included)."""
    fields: dict[str, Any] = {"upstream": system, "endpoint": endpoint, "upstream_code": str(upstream_code)}
    if reason:
        fields["reason"] = reason
    log.log(level, "upstream error", extra={"fields": fields})


def config_problem(system: str, endpoint: str, upstream_code: object, reason: str) -> UpstreamUnavailable:
    """Our credentials or request are wrong: every user is affected until someone fixes the config."""
    report(system, endpoint, upstream_code, level=logging.ERROR, reason=reason)
    return UpstreamUnavailable(upstream=system)


class UpstreamHttp:
    """One outside system: its session, its timeout, its name in the logs."""

    def __init__(self, system: str, *, session: requests.Session | None = None, timeout: float = 3.0) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.system = system
        self.session = session or pooled_session()
        self.timeout = timeout

    def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send one request. Returns any response below 500; raises UpstreamUnavailable for
        connection failures, timeouts and 5xx."""
        started = time.perf_counter()
        failure: str | None = None
        response: requests.Response | None = None
        try:
            response = self.session.request(
                method, url, params=params, json=json, data=data, headers=headers,
                timeout=self.timeout, allow_redirects=False,
            )
        except requests.RequestException as exc:
            failure = type(exc).__name__
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        fields: dict[str, Any] = {"upstream": self.system, "endpoint": endpoint, "duration_ms": duration_ms}
        if response is None:
            # Raised outside the except block so the requests exception (URL and all) is not chained.
            log.warning("upstream unreachable", extra={"fields": {**fields, "error_class": failure}})
            raise UpstreamUnavailable(upstream=self.system)
        fields["status"] = response.status_code
        if response.status_code >= 500:
            log.warning("upstream failed", extra={"fields": fields})
            raise UpstreamUnavailable(upstream=self.system)
        log.info("upstream call", extra={"fields": fields})
        return response

    def json_object(self, response: requests.Response, endpoint: str) -> dict[str, Any]:
        """The body as a JSON object. Anything else (a proxy's HTML page with 200, say) means the
        system is not really answering."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            report(self.system, endpoint, f"http_{response.status_code}", reason="body is not a JSON object")
            raise UpstreamUnavailable(upstream=self.system)
        return body
