"""Where the home screen's push-owned sections come from: recommendations, policy notices, unread count.

``HomeSources`` is the whole interface the home view needs. Two implementations:

* ``NullSources`` (default): no notices, no inbox (0), and regional popularity from
  ``Catalogue.hot`` as the shared recommendations ("本地区热门"); no personal recommendations.
* ``PushSources(push)``: adapts ``push.service.PushService`` (``recommendations``,
  ``inbox_unread``, ``policy_notices``). The composition root (``bootstrap``) wires it.

Shared sections (``recommendations(account_id=None)``, ``notices``) are computed inside cached
anonymous answers, possibly in a background thread: they get plain arguments, never the request.
Personal ones (``recommendations(account_id=…)``, ``unread_count``) are asked per request.
A failing source degrades to an empty section (logged), it never fails the home screen.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("msb.home")

POPULAR_REASON = "本地区热门"
NOTICE_CATEGORY = "policy"  # campaign categories: service | policy | marketing; home shows policy only


class HomeSources(Protocol):
    def recommendations(self, *, region: str, limit: int, account_id: str | None = None) -> list[dict[str, Any]] | None:
        """``[{basic_code, name, reason, reason_code?}]``; ``account_id=None`` means the shared list.
        None for a citizen means "nothing personal": the shared list stays."""

    def notices(self, *, region: str, limit: int) -> list[dict[str, Any]]:
        """Current campaign notices of category ``policy`` for the region:
        ``[{id, title, summary?, category, published_at?}]``."""

    def unread_count(self, account_id: str) -> int:
        """Unread inbox messages of the citizen."""


class NullSources:
    """Until push is wired: popularity from the catalogue, nothing else."""

    def __init__(self, catalogue: Callable[[], Any]) -> None:
        self._catalogue = catalogue

    def recommendations(self, *, region: str, limit: int, account_id: str | None = None) -> list[dict[str, Any]] | None:
        if account_id is not None:
            return None
        items = self._catalogue().hot(region=region, limit=limit)
        return [{"basic_code": item.basic_code, "name": item.short_name or item.name,
                 "reason": POPULAR_REASON, "reason_code": "popular_region"} for item in items]

    def notices(self, *, region: str, limit: int) -> list[dict[str, Any]]:
        return []

    def unread_count(self, account_id: str) -> int:
        return 0


class PushSources:
    """``push.service.PushService`` behind ``HomeSources`` (duck-typed: no import of push here).

    ``service`` is the service itself or a zero-argument getter returning it; either must work without a
    request (background cache refreshes).
    """

    def __init__(self, service: Any) -> None:
        self._source = service

    @property
    def _service(self) -> Any:
        source = self._source
        return source if hasattr(source, "recommendations") else source()

    def recommendations(self, *, region: str, limit: int, account_id: str | None = None) -> list[dict[str, Any]] | None:
        found = self._service.recommendations(account_id, region=region, limit=limit)
        entries = [{"basic_code": r["basic_code"], "name": r["name"], "reason": r["reason"],
                    "reason_code": r.get("reason_code")} for r in found]
        if account_id is not None and not entries:
            return None
        return entries

    def notices(self, *, region: str, limit: int) -> list[dict[str, Any]]:
        policy_notices = getattr(self._service, "policy_notices", None)
        if policy_notices is None:  # the facade does not list notices yet
            return []
        found = policy_notices(region=region, limit=limit)
        return [n for n in found if n.get("category", NOTICE_CATEGORY) == NOTICE_CATEGORY][:limit]

    def unread_count(self, account_id: str) -> int:
        return int(self._service.inbox_unread(account_id)["unread"])


def guarded(section: str, call: Callable[[], Any], default: Any) -> Any:
    """A section's value, or ``default`` when its source fails (Redis down, push errors…)."""
    try:
        return call()
    except Exception as error:  # a home screen without notices beats no home screen
        log.warning("home section unavailable", extra={"fields": {"section": section, "error_class": type(error).__name__}})
        return default
