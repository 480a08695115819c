"""Frozen result types returned by `Catalogue`; `to_dict()` is JSON-ready."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class SearchHit:
    basic_code: str
    implementation_code: str
    name: str
    local_name: str
    short_name: str
    plain_name: str
    department: str
    item_type: str
    region_code: str
    region_name: str
    online_depth: int
    visits: int
    promised_days: int
    highlight: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Facets:
    department: dict[str, int]
    item_type: dict[str, int]
    theme: dict[str, int]
    online_depth: dict[str, int]

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {"department": dict(self.department), "item_type": dict(self.item_type),
                "theme": dict(self.theme), "online_depth": dict(self.online_depth)}


@dataclass(frozen=True)
class ThemeRef:
    code: str
    name: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HelpLine:
    name: str
    phone: str
    tel: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


HELP_LINE = HelpLine(name="12345政务服务便民热线", phone="12345", tel="tel:12345",
                     text="没找到要办的事？拨打12345政务服务便民热线，工作人员帮您问清楚、找到办理的地方。")


@dataclass(frozen=True)
class SearchResult:
    query: str
    total: int
    page: int
    page_size: int
    items: tuple[SearchHit, ...]
    facets: Facets
    understood: str = ""
    match: str = "exact"  # exact | relaxed | closest | none
    did_you_mean: str | None = None
    themes: tuple[ThemeRef, ...] = ()
    help: HelpLine | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "total": self.total, "page": self.page,
                "page_size": self.page_size, "items": [hit.to_dict() for hit in self.items],
                "facets": self.facets.to_dict(), "understood": self.understood, "match": self.match,
                "did_you_mean": self.did_you_mean, "themes": [t.to_dict() for t in self.themes],
                "help": self.help.to_dict() if self.help else None}


@dataclass(frozen=True)
class Suggestion:
    text: str
    basic_code: str
    kind: str  # name | short_name | local_name | alias | pinyin | initials | search

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ItemSummary:
    basic_code: str
    implementation_code: str
    name: str
    local_name: str
    short_name: str
    plain_name: str
    department: str
    item_type: str
    region_code: str
    region_name: str
    online_depth: int
    visits: int
    promised_days: int
    popularity: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HandleItem:
    index: int
    name: str
    implementation_code: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ItemDetail:
    basic_code: str
    implementation_code: str
    name: str
    local_name: str
    short_name: str
    plain_name: str
    department: str
    department_full: str
    department_code: str
    item_type: str
    audience: tuple[str, ...]
    level: str
    region_code: str
    region_name: str
    online_depth: int
    is_online: bool
    online_url: str | None
    mobile_path: str | None
    visits: int
    legal_days: int
    promised_days: int
    fee: str | None
    materials: tuple[str, ...]
    conditions: str
    address: str
    office_hours: str
    phone: str
    handle_items: tuple[HandleItem, ...]
    themes: tuple[ThemeRef, ...]
    tags: tuple[str, ...]
    popularity: int
    elder_relevant: bool

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("audience", "materials", "tags"):
            data[key] = list(data[key])
        data["handle_items"] = [h.to_dict() for h in self.handle_items]
        data["themes"] = [t.to_dict() for t in self.themes]
        return data


@dataclass(frozen=True)
class ThemeSummary:
    code: str
    name: str
    audience: tuple[str, ...]
    origin: str
    description: str
    aliases: tuple[str, ...]
    item_count: int

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["audience"], data["aliases"] = list(self.audience), list(self.aliases)
        return data


@dataclass(frozen=True)
class ThemeDetail:
    code: str
    name: str
    audience: tuple[str, ...]
    origin: str
    description: str
    aliases: tuple[str, ...]
    region: str | None
    items: tuple[ItemSummary, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "audience": list(self.audience),
                "origin": self.origin, "description": self.description,
                "aliases": list(self.aliases), "region": self.region,
                "items": [item.to_dict() for item in self.items]}
