"""The message templates we may send and the channel value rules, checked when a campaign is created.

WeChat subscribe messages: only ``data.<key>.value`` is free, typed by the key's prefix
(notes §7: thing ≤ 20 chars, phrase ≤ 5 汉字, time, character_string ≤ 32, number, …); a bad value
costs a 47003 per recipient at send time, so it is refused here, naming the field the way WeChat
does (``data.thing1.value``). Alipay: ``keywordN`` values ≤ 50 chars (notes §11). APP push and the
in-app inbox have our own limits.

Which templates exist is configuration: WeChat/Alipay template ids are created in their consoles.
``DEFAULT_TEMPLATES`` mirrors the sandbox's; production supplies a JSON file
(``MSB_PUSH_TEMPLATES_FILE``) of the same shape.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from push.errors import InvalidInput, InvalidTemplateData, UnknownTemplate

ONE_TIME = "one_time"
LONG_TERM = "long_term"
CONSENT_KINDS = (ONE_TIME, LONG_TERM)


@dataclass(frozen=True)
class Template:
    channel: str  # wechat | alipay
    template_id: str
    title: str
    kind: str  # one_time | long_term
    keys: tuple[str, ...]  # e.g. ("thing1", "time2")
    enums: tuple[tuple[str, tuple[str, ...]], ...] = ()  # enum key -> allowed values

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "template_id": self.template_id, "title": self.title,
                "kind": self.kind, "keys": list(self.keys)}


DEFAULT_TEMPLATES: dict[str, dict[str, dict[str, Any]]] = {
    "wechat": {
        "wx_tpl_policy_notice": {"title": "政策通知", "kind": LONG_TERM, "keys": ["thing1", "thing2", "time3"]},
        "wx_tpl_service_reminder": {"title": "办事提醒", "kind": ONE_TIME,
                                    "keys": ["thing1", "phrase2", "time3", "thing4"]},
        "wx_tpl_progress": {"title": "办件进度通知", "kind": ONE_TIME,
                            "keys": ["character_string1", "thing2", "phrase3", "date4"]},
    },
    "alipay": {
        "ali_tpl_policy_notice": {"title": "政策通知", "kind": LONG_TERM, "keys": ["keyword1", "keyword2", "keyword3"]},
        "ali_tpl_service_reminder": {"title": "办事提醒", "kind": ONE_TIME, "keys": ["keyword1", "keyword2"]},
    },
}


class TemplateRegistry:
    def __init__(self, spec: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None) -> None:
        spec = DEFAULT_TEMPLATES if spec is None else spec
        self._templates: dict[tuple[str, str], Template] = {}
        for channel, templates in spec.items():
            for template_id, body in templates.items():
                kind = body.get("kind", ONE_TIME)
                if kind not in CONSENT_KINDS:
                    raise ValueError(f"template {template_id}: kind must be one of {CONSENT_KINDS}")
                enums = tuple(sorted((k, tuple(v)) for k, v in (body.get("enums") or {}).items()))
                self._templates[(channel, template_id)] = Template(
                    channel, template_id, body.get("title", template_id), kind, tuple(body["keys"]), enums)

    @classmethod
    def from_file(cls, path: Path | str | None) -> "TemplateRegistry":
        if not path:
            return cls()
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def get(self, channel: str, template_id: object) -> Template:
        template = self._templates.get((channel, template_id)) if isinstance(template_id, str) else None
        if template is None:
            raise UnknownTemplate(f"{channel}.template_id", channel=channel)
        return template

    def find(self, channel: str, template_id: str) -> Template | None:
        return self._templates.get((channel, template_id))

    def all(self, channel: str | None = None) -> list[Template]:
        return [t for (ch, _), t in sorted(self._templates.items()) if channel in (None, ch)]


# --- WeChat subscribe-message value rules (notes §7) --------------------------------------------------

_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_KEY = re.compile(r"^([a-z_]+?)(\d+)$")
_DATE = r"(?:\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2})"
_TIME = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
_TIME_VALUE = re.compile(rf"^(?:{_DATE}\s*)?{_TIME}$")
_DATE_VALUE = re.compile(rf"^{_DATE}(?:\s*{_TIME})?$")


def _ranged(pattern: re.Pattern[str], value: str) -> bool:
    parts = value.split("~")
    return 1 <= len(parts) <= 2 and all(pattern.match(part.strip()) for part in parts)


def _number(value: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", value)) and sum(c.isdigit() for c in value) <= 32


# prefix -> (check, human rule)
WECHAT_RULES: dict[str, tuple[Any, str]] = {
    "thing": (lambda v: 1 <= len(v) <= 20, "20个以内字符"),
    "number": (_number, "32位以内数字，可带小数"),
    "letter": (lambda v: bool(re.fullmatch(r"[A-Za-z]{1,32}", v)), "32位以内字母"),
    "symbol": (lambda v: bool(re.fullmatch(r"[^\w\s]{1,5}", v)), "5位以内符号"),
    "character_string": (lambda v: bool(re.fullmatch(r"[\x21-\x7e]{1,32}", v)), "32位以内数字、字母或符号"),
    "time": (lambda v: _ranged(_TIME_VALUE, v), "24小时制时间，可带日期，支持~区间"),
    "date": (lambda v: _ranged(_DATE_VALUE, v), "日期，可带时间，支持~区间"),
    "amount": (lambda v: bool(re.fullmatch(r"[¥￥$€£]?\d{1,10}(\.\d{1,2})?元?", v)), "1个币种符号+10位以内纯数字，可带小数，结尾可带“元”"),
    "phone_number": (lambda v: bool(re.fullmatch(r"[\d+\-() ]{1,17}", v)), "17位以内数字、符号"),
    "car_number": (lambda v: len(v) <= 8 and bool(re.fullmatch(rf"[{_HAN}]?[A-Za-z0-9]{{1,7}}[{_HAN}]?", v)), "8位以内，首尾可为汉字"),
    "name": (lambda v: bool(re.fullmatch(rf"[{_HAN}·]{{1,10}}", v) or re.fullmatch(r"[A-Za-z ]{1,20}", v)), "10个以内纯汉字或20个以内纯字母"),
    "phrase": (lambda v: bool(re.fullmatch(rf"[{_HAN}]{{1,5}}", v)), "5个以内汉字"),
}


def check_wechat_value(key: str, value: object, enums: Mapping[str, tuple[str, ...]] | None = None) -> str | None:
    """The violated rule for ``data.<key>.value``, or None when the value is acceptable."""
    match = _KEY.match(key)
    if match is None:
        return "未知的字段类型"
    prefix = match.group(1)
    if not isinstance(value, str) or not value.strip():
        return "不能为空"
    if prefix == "enum":
        allowed = (enums or {}).get(key, ())
        return None if value in allowed else "须为模板登记的枚举值"
    rule = WECHAT_RULES.get(prefix)
    if rule is None:
        return "未知的字段类型"
    check, text = rule
    return None if check(value) else text


def validate_wechat_data(template: Template, data: object) -> dict[str, dict[str, str]]:
    """Normalise ``{"thing1": "…"}`` or ``{"thing1": {"value": "…"}}`` to WeChat's shape, checking
    every key the template declares (and nothing else)."""
    if not isinstance(data, Mapping):
        raise InvalidInput("wechat.data")
    unknown = sorted(set(data) - set(template.keys))
    if unknown:
        raise InvalidTemplateData(f"data.{unknown[0]}", "模板中没有该字段")
    enums = dict(template.enums)
    result: dict[str, dict[str, str]] = {}
    for key in template.keys:
        raw = data.get(key)
        value = raw.get("value") if isinstance(raw, Mapping) else raw
        problem = check_wechat_value(key, value, enums)
        if problem is not None:
            raise InvalidTemplateData(f"data.{key}.value", problem)
        result[key] = {"value": value}  # type: ignore[dict-item]
    return result


ALIPAY_VALUE_MAX = 50


def validate_alipay_data(template: Template, data: object) -> dict[str, dict[str, str]]:
    if not isinstance(data, Mapping):
        raise InvalidInput("alipay.data")
    unknown = sorted(set(data) - set(template.keys))
    if unknown:
        raise InvalidTemplateData(f"data.{unknown[0]}", "模板中没有该字段")
    result: dict[str, dict[str, str]] = {}
    for key in template.keys:
        raw = data.get(key)
        value = raw.get("value") if isinstance(raw, Mapping) else raw
        if not isinstance(value, str) or not value.strip() or len(value) > ALIPAY_VALUE_MAX:
            raise InvalidTemplateData(f"data.{key}.value", f"1–{ALIPAY_VALUE_MAX}个字符")
        result[key] = {"value": value}
    return result


_PAGE = re.compile(r"^[A-Za-z0-9_\-/.]{1,200}(\?[\x21-\x7e]{0,300})?$")


def check_page(field: str, page: object) -> str | None:
    """A mini-program page path (``pages/item/detail?code=B0111``) or None."""
    if page is None or page == "":
        return None
    if not isinstance(page, str) or not _PAGE.match(page) or page.startswith("/") or ".." in page:
        raise InvalidInput(field, "页面路径格式不正确")
    return page
