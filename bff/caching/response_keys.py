"""Every Redis key and TTL of the response cache, in one place.

Entry key::

    bff:c:v{SCHEMA_VERSION}:{route}:{channel}:{mode}:{language}:{sha256(canonical params)[:32]}

* ``route`` must be registered in ``ROUTES`` (its TTLs and tags live there);
* ``channel``/``mode``/``language`` are validated, so arbitrary header values cannot mint keys;
* params are canonicalised (sorted keys, ``None`` dropped, scalars as strings, text NFC), so
  ``{"page": 1, "q": "社保"}`` and ``{"q": "社保", "page": "1", "region": None}`` share an entry;
* bump ``SCHEMA_VERSION`` whenever a cached payload's shape changes: old entries are then never
  read again and expire on their own.

Tag generations (``bff:c:{gen}:<tag>``) are stored beside the entries, not in their keys: an entry
records the generations it was computed under and is ignored once any of them moved
(``ResponseCache.invalidate_tag`` = one ``INCR``, no scan). Reading them costs nothing extra: the
entry and its generations (``GET`` each) come back in one pipelined round trip.

Redis Cluster: entries carry no hash tag, so they spread over every slot and invalidating a tag never
touches them. The few generation counters share the hash tag ``{gen}``, so a route's are read from
one node; the entry is read beside them, not atomically, which needs no atomicity: an entry and
generations read on either side of an invalidation disagree and only cause a recompute.
"""
from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SCHEMA_VERSION", "PREFIX", "CHANNELS", "MODES", "LANGUAGES", "Variant", "RoutePolicy",
           "ROUTES", "policy_for", "canonical_params", "entry_key", "lock_key", "generation_key",
           "STATS_KEY", "LOCK_TTL_MS", "LOCAL_TTL_SECONDS", "LOCAL_MAXSIZE"]

SCHEMA_VERSION = 1
PREFIX = "bff:c"
STATS_KEY = f"{PREFIX}:stats"

CHANNELS = ("app", "wechat", "alipay", "web")
MODES = ("standard", "elder")        # auth.preferences.MODES
LANGUAGES = ("zh", "mn")             # auth.preferences.LANGUAGES

# Stampede lock lifetime: longer than any recompute; a crashed holder blocks others this long at most.
LOCK_TTL_MS = 5000
# In-process layer in front of Redis: absorbs hot keys per worker; other workers see an
# invalidation at most this late.
LOCAL_TTL_SECONDS = 2.0
LOCAL_MAXSIZE = 1024


@dataclass(frozen=True)
class Variant:
    """What besides the URL changes a response: the client channel, UI mode and language."""

    channel: str = "app"
    mode: str = "standard"
    language: str = "zh"

    def __post_init__(self) -> None:
        for name, allowed in (("channel", CHANNELS), ("mode", MODES), ("language", LANGUAGES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"cache variant {name} must be one of {allowed}, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class RoutePolicy:
    """``ttl``: seconds an entry is fresh (an upper bound: jitter only shortens it, so it never
    outlives the ``max-age`` the HTTP layer announces); ``stale``: further seconds it may be served
    while one background refresh runs; ``jitter``: fraction of ``ttl`` randomly taken off."""

    ttl: float
    stale: float
    tags: tuple[str, ...] = ("catalog",)
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.ttl <= 0 or self.stale < 0 or not 0 <= self.jitter < 1:
            raise ValueError(f"invalid cache policy {self}")


# Catalogue answers change only when the index is rebuilt (tag "catalog"); 300 s matches
# Settings.catalog_max_age_seconds. Home also carries campaign notices (tag "notices", bumped by
# campaign.state_changed events, see bootstrap), hence shorter. Catalogue rebuilds need no invalidation:
# the views put the catalogue build id in the params (tag "catalog" remains for manual flushes).
ROUTES: dict[str, RoutePolicy] = {
    "home": RoutePolicy(ttl=60, stale=600, tags=("catalog", "home", "notices")),
    "items.search": RoutePolicy(ttl=300, stale=3600),
    "items.suggest": RoutePolicy(ttl=300, stale=3600),
    "items.hot": RoutePolicy(ttl=300, stale=3600),
    "items.detail": RoutePolicy(ttl=300, stale=3600),
    "themes.list": RoutePolicy(ttl=600, stale=3600),
    "themes.detail": RoutePolicy(ttl=600, stale=3600),
}


def policy_for(route: str) -> RoutePolicy:
    try:
        return ROUTES[route]
    except KeyError:
        raise ValueError(f"route {route!r} is not registered in bff.caching.response_keys.ROUTES") from None


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) and not value.is_integer() else str(int(value))
    raise TypeError("cache key parameter values must be str, int, float, bool or lists of them, "
                    f"got {type(value).__name__}")


def canonical_params(params: Mapping[str, Any] | None) -> str:
    """Deterministic text for a parameter mapping (sorted, ``None`` dropped, values as strings)."""
    items = []
    for name in sorted(params or {}):
        value = params[name]  # type: ignore[index]
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            items.append([name, [_scalar(v) for v in value]])
        else:
            items.append([name, _scalar(value)])
    return json.dumps(items, ensure_ascii=False, separators=(",", ":"))


def entry_key(route: str, params: Mapping[str, Any] | None, variant: Variant) -> str:
    policy_for(route)
    digest = hashlib.sha256(canonical_params(params).encode()).hexdigest()[:32]
    return (f"{PREFIX}:v{SCHEMA_VERSION}:{route}:{variant.channel}:{variant.mode}:"
            f"{variant.language}:{digest}")


def lock_key(key: str) -> str:
    return f"{PREFIX}:lock:{key[len(PREFIX) + 1:]}"


def generation_key(tag: str) -> str:
    if not tag or ":" in tag:
        raise ValueError(f"invalid cache tag {tag!r}")
    return f"{PREFIX}:{{gen}}:{tag}"
