"""Policy notices for the home screen: live policy campaigns whose audience covers a region.

Only the `policy` category is ever listed (never marketing). A running campaign is live; a finished
one stays up until its schedule window ends, or for ``FINISHED_NOTICE_SECONDS`` when it has none.
"""
from __future__ import annotations

from typing import Any, Iterable

from catalog.regions import RegionTree
from push.audience import expand_regions
from push.campaigns import FINISHED, RUNNING, Campaign

FINISHED_NOTICE_SECONDS = 7 * 86400
PROVINCE_CODE = "150000"


def _covers(rules_regions: list[str] | None, region: str, tree: RegionTree) -> bool:
    targeted = expand_regions(rules_regions, tree) if rules_regions else None
    if targeted is None:
        return True
    # The province-wide home shows only notices meant for the whole region.
    return region != PROVINCE_CODE and region in targeted


def _is_live(campaign: Campaign, now: float) -> bool:
    if campaign.category != "policy" or campaign.status not in (RUNNING, FINISHED):
        return False
    if campaign.start_at is not None and campaign.start_at > now:
        return False
    ends = campaign.end_at
    if ends is None and campaign.status == FINISHED:
        ends = campaign.updated_at + FINISHED_NOTICE_SECONDS
    return ends is None or ends > now


def _notice(campaign: Campaign) -> dict[str, Any]:
    content = campaign.content.get("inbox") or campaign.content.get("app") or {}
    return {
        "id": campaign.id,
        "title": content.get("title") or campaign.name,
        "summary": content.get("text") or content.get("body"),
        "category": "policy",
        "published_at": campaign.start_at or campaign.approved_at or campaign.updated_at,
    }


def live_policy_notices(campaigns: Iterable[Campaign], *, region: str, tree: RegionTree, now: float,
                        limit: int) -> list[dict[str, Any]]:
    live = [c for c in campaigns if _is_live(c, now) and _covers(c.audience.get("regions"), region, tree)]
    live.sort(key=lambda c: c.start_at or c.updated_at, reverse=True)
    return [_notice(c) for c in live[:limit]]
