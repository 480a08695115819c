"""The APP push aggregator's gateway (``POST /push/v1/messages``, the ``sandbox/app_push.py`` protocol).

Only the wire: the app key header, the URL, a timeout. What a reply means for a message (sent, forget
the device, retry) is the sender's business (``push.senders.app_push``).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from integrations.json_http import JsonHttp

SYSTEM = "app_push"
SEND = "app_push.send"
APP_KEY_HEADER = "X-App-Key"


class AppPushClient:
    def __init__(self, base_url: str, app_key: str, *, http: JsonHttp | None = None, timeout: float = 3.0) -> None:
        self._url = base_url.rstrip("/") + "/push/v1/messages"
        self._headers = {APP_KEY_HEADER: app_key}
        self._http = http or JsonHttp()
        self._timeout = timeout

    def send(self, message: dict[str, Any], *, before_write: Callable[[], bool] | None = None) -> tuple[int, Any]:
        """(HTTP status, parsed JSON) of any answer below 500; raises ``TransportError`` (retryable) for
        connection failures, timeouts, 5xx and bodies that are not JSON, ``Withdrawn`` when
        ``before_write`` refused (see ``JsonHttp.post``)."""
        return self._http.post(self._url, timeout=self._timeout, json_body=message, headers=self._headers,
                               endpoint=SEND, before_write=before_write)
