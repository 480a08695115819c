"""Flask glue shared by the stand-in modules."""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from flask import Response, current_app, request

from sandbox.state import Fault, Sandbox


def current_sandbox() -> Sandbox:
    return current_app.extensions["sandbox"]


def json_response(body: Any, status: int = 200, content_type: str = "application/json; charset=utf-8") -> Response:
    # Chinese stays readable (as the real systems send it), not \u-escaped.
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status=status, content_type=content_type)


def json_body() -> dict[str, Any] | None:
    """The request's JSON object, or None when the body is not a JSON object
    (whatever the Content-Type says: upstreams parse the bytes)."""
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def enter_endpoint(endpoint: str, render_fault: Callable[[Fault], Response]) -> Response | None:
    """Count the call; if a fault is armed for it, wait its delay (outside the
    lock, so other requests proceed) and return the injected response."""
    fault = current_sandbox().enter(endpoint)
    if fault is None:
        return None
    if fault.delay_ms:
        time.sleep(fault.delay_ms / 1000)
    if fault.raw_body is not None:
        return Response(fault.raw_body, status=fault.http_status or 502, content_type="text/html; charset=utf-8")
    if fault.delay_ms and not fault.error and fault.http_status is None:
        return None  # a pure delay: answer normally after waiting
    return render_fault(fault)
