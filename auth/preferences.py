"""Per-account preferences: UI mode, language, home region, push opt-outs.

Validated here (format only; the catalogue decides whether a region code exists) and stored as one
JSON field of the account hash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from auth.errors import InvalidInput
from auth.identifiers import is_region_code

MODES = ("standard", "elder")
LANGUAGES = ("zh", "mn")
# Individual service notices (your application was approved) cannot be opted out of: they are the
# service itself. Marketing and policy broadcasts can, per delivery channel.
PUSH_CATEGORIES = ("marketing", "policy")
PUSH_CHANNELS = ("wechat", "alipay", "app", "inbox")
FIELDS = ("mode", "language", "home_region", "push_opt_outs")


@dataclass(frozen=True)
class Preferences:
    mode: str = "standard"
    language: str = "zh"
    home_region: str | None = None
    # category -> channels the user opted out of, both sorted
    push_opt_outs: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def opted_out(self, category: str, channel: str) -> bool:
        return channel in dict(self.push_opt_outs).get(category, ())

    def to_dict(self) -> dict[str, Any]:
        opt_outs = dict(self.push_opt_outs)
        return {
            "mode": self.mode,
            "language": self.language,
            "home_region": self.home_region,
            "push_opt_outs": {category: list(opt_outs.get(category, ())) for category in PUSH_CATEGORIES},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))


def _opt_outs(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, Mapping):
        raise InvalidInput("push_opt_outs")
    result = []
    for category, channels in value.items():
        if category not in PUSH_CATEGORIES or not isinstance(channels, (list, tuple)):
            raise InvalidInput("push_opt_outs")
        if any(channel not in PUSH_CHANNELS for channel in channels):
            raise InvalidInput("push_opt_outs")
        if channels:
            result.append((category, tuple(sorted(set(channels)))))
    return tuple(sorted(result))


def apply_changes(current: Preferences, changes: Mapping[str, Any]) -> Preferences:
    """Return ``current`` with the given fields replaced (PATCH semantics). ``push_opt_outs``
    replaces the listed categories only; ``home_region: None`` clears the region."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise InvalidInput(sorted(unknown)[0])
    updated = current
    if "mode" in changes:
        if changes["mode"] not in MODES:
            raise InvalidInput("mode")
        updated = replace(updated, mode=changes["mode"])
    if "language" in changes:
        if changes["language"] not in LANGUAGES:
            raise InvalidInput("language")
        updated = replace(updated, language=changes["language"])
    if "home_region" in changes:
        region = changes["home_region"]
        if region is not None and not is_region_code(region):
            raise InvalidInput("home_region")
        updated = replace(updated, home_region=region)
    if "push_opt_outs" in changes:
        merged = dict(updated.push_opt_outs)
        given = dict(_opt_outs(changes["push_opt_outs"]))
        for category in changes["push_opt_outs"]:
            merged[category] = given.get(category, ())
        updated = replace(updated, push_opt_outs=tuple(sorted((c, ch) for c, ch in merged.items() if ch)))
    return updated
