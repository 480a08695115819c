"""What a campaign spec may say: its shape, its channels' content against the templates, its window.

Raised as ``push.errors.InvalidInput`` (422) naming the field; the values are never echoed.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from catalog.model import ReferenceData
from push.audience import validate_rules
from push.errors import InvalidInput
from push.settings import CHANNELS
from push.templates import TemplateRegistry, check_page, validate_alipay_data, validate_wechat_data

CATEGORIES = ("service", "policy", "marketing")
MAX_WINDOW_SECONDS = 90 * 86_400


def _text(raw: Mapping[str, Any], name: str, field_name: str, low: int, high: int, required: bool = True) -> str | None:
    value = raw.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not low <= len(value.strip()) <= high:
        raise InvalidInput(field_name, f"{field_name} 须为 {low}–{high} 个字符")
    return value.strip()


def validate_spec(raw: object, reference: ReferenceData, templates: TemplateRegistry) -> dict[str, Any]:
    """The normalised campaign spec; raises InvalidInput (or a subclass) naming the field."""
    if not isinstance(raw, Mapping):
        raise InvalidInput("campaign")
    allowed = {"name", "category", "channels", "content", "page", "audience", "schedule", "max_per_citizen", "note"}
    unknown = set(raw) - allowed
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "不支持的字段")
    spec: dict[str, Any] = {"name": _text(raw, "name", "name", 1, 60)}
    category = raw.get("category")
    if category not in CATEGORIES:
        raise InvalidInput("category", "category 须为 service、policy 或 marketing")
    spec["category"] = category
    channels = raw.get("channels")
    if (not isinstance(channels, list) or not channels or len(set(channels)) != len(channels)
            or any(ch not in CHANNELS for ch in channels)):
        raise InvalidInput("channels", "channels 须为 wechat、alipay、app、inbox 中不重复的若干项")
    spec["channels"] = list(channels)
    effective = list(channels) + (["inbox"] if category == "service" and "inbox" not in channels else [])
    spec["page"] = check_page("page", raw.get("page"))
    content_raw = raw.get("content")
    if not isinstance(content_raw, Mapping):
        raise InvalidInput("content")
    extra = set(content_raw) - set(effective)
    if extra:
        raise InvalidInput(f"content.{sorted(extra)[0]}", "未选择该渠道")
    content: dict[str, dict[str, Any]] = {}
    for channel in effective:
        body = content_raw.get(channel)
        if not isinstance(body, Mapping):
            raise InvalidInput(f"content.{channel}", "缺少该渠道的内容")
        content[channel] = _channel_content(channel, body, templates)
    spec["content"] = content
    spec["audience"] = validate_rules(raw.get("audience"), reference)
    schedule = raw.get("schedule") or {}
    if not isinstance(schedule, Mapping) or set(schedule) - {"start_at", "end_at"}:
        raise InvalidInput("schedule")
    spec["start_at"], spec["end_at"] = check_window(schedule.get("start_at"), schedule.get("end_at"))
    cap = raw.get("max_per_citizen", len(channels))
    if not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= len(channels):
        raise InvalidInput("max_per_citizen", "每人最多条数须在 1 与所选渠道数之间")
    spec["max_per_citizen"] = cap
    spec["note"] = _text(raw, "note", "note", 0, 500, required=False) or ""
    return spec


def check_window(start_at: object, end_at: object) -> tuple[float | None, float | None]:
    for name, value in (("schedule.start_at", start_at), ("schedule.end_at", end_at)):
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0):
            raise InvalidInput(name, "时间须为 Unix 时间戳（秒）")
    if start_at is not None and end_at is not None:
        if end_at <= start_at or end_at - start_at > MAX_WINDOW_SECONDS:  # type: ignore[operator]
            raise InvalidInput("schedule.end_at", "结束时间须晚于开始时间，且窗口不超过 90 天")
    return (float(start_at) if start_at is not None else None, float(end_at) if end_at is not None else None)  # type: ignore[arg-type]


def _channel_content(channel: str, body: Mapping[str, Any], templates: TemplateRegistry) -> dict[str, Any]:
    prefix = f"content.{channel}"
    if channel in ("wechat", "alipay"):
        template = templates.get(channel, body.get("template_id"))
        checker = validate_wechat_data if channel == "wechat" else validate_alipay_data
        result: dict[str, Any] = {"template_id": template.template_id, "data": checker(template, body.get("data")),
                                  "page": check_page(f"{prefix}.page", body.get("page"))}
        if channel == "wechat":
            state = body.get("miniprogram_state", "formal")
            if state not in ("developer", "trial", "formal"):
                raise InvalidInput(f"{prefix}.miniprogram_state")
            result["miniprogram_state"] = state
        return result
    if channel == "app":
        payload = body.get("payload") or {}
        if not isinstance(payload, Mapping) or len(json.dumps(payload)) > 1024:
            raise InvalidInput(f"{prefix}.payload", "payload 须为不超过 1 KB 的对象")
        return {"title": _text(body, "title", f"{prefix}.title", 1, 50),
                "body": _text(body, "body", f"{prefix}.body", 1, 256), "payload": dict(payload)}
    return {"title": _text(body, "title", f"{prefix}.title", 1, 50),
            "text": _text(body, "text", f"{prefix}.text", 1, 1000)}

