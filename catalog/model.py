"""The reference catalogue: basic items (基本目录), themes (一件事), local
naming variants and the region tree, loaded from the four JSON files.

Local-name rule (documented decision): an implementation entry at region R is
named by the variant of the nearest of [R, R's county, R's city] that has one,
else the official name. So a 包头 county inherits 包头市's name for 农药经营许可
unless it has its own variant; province entries always use the official name.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from catalog.errors import ItemNotFound, ThemeNotFound
from catalog.regions import RegionTree

PACKAGED_DATA = Path(__file__).parent / "data"
DATA_FILES = ("regions.json", "items.json", "themes.json", "local_variants.json")


@dataclass(frozen=True)
class BasicItem:
    basic_code: str
    name: str
    short_name: str
    plain_name: str
    department: str
    sub_department: str
    item_type: str
    audience: tuple[str, ...]
    levels: tuple[str, ...]
    online_depth: int
    visits: int
    legal_days: int
    promised_days: int
    fee: str | None
    materials: tuple[str, ...]
    themes: tuple[str, ...]
    tags: tuple[str, ...]
    aliases: tuple[str, ...]
    hot: int
    elder_relevant: bool
    name_mn: str | None = None  # no source has Mongolian item names yet

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> BasicItem:
        return cls(
            basic_code=r["basic_code"], name=r["name"], short_name=r["short_name"],
            plain_name=r["plain_name"], department=r["department"],
            sub_department=r["sub_department"], item_type=r["item_type"],
            audience=tuple(r["audience"]), levels=tuple(r["levels"]),
            online_depth=int(r["online_depth"]), visits=int(r["visits"]),
            legal_days=int(r["legal_days"]), promised_days=int(r["promised_days"]),
            fee=r["fee"] or None, materials=tuple(r["materials"]), themes=tuple(r["themes"]),
            tags=tuple(r["tags"]), aliases=tuple(r["aliases"]), hot=int(r["hot"]),
            elder_relevant=bool(r["elder_relevant"]), name_mn=r.get("name_mn") or None,
        )


@dataclass(frozen=True)
class Theme:
    code: str
    name: str
    audience: tuple[str, ...]
    origin: str
    description: str
    aliases: tuple[str, ...]
    items: tuple[str, ...]

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Theme:
        return cls(code=r["code"], name=r["name"], audience=tuple(r["audience"]),
                   origin=r["origin"], description=r["description"],
                   aliases=tuple(r["aliases"]), items=tuple(r["items"]))


@dataclass(frozen=True)
class LocalVariant:
    basic_code: str
    region_code: str
    local_name: str
    pattern: str
    source: str


class ReferenceData:
    def __init__(self, regions: RegionTree, items: Iterable[BasicItem],
                 themes: Iterable[Theme], variants: Iterable[LocalVariant]) -> None:
        self.regions = regions
        self.items: tuple[BasicItem, ...] = tuple(sorted(items, key=lambda i: i.basic_code))
        self.themes: tuple[Theme, ...] = tuple(sorted(themes, key=lambda t: t.code))
        self.variants: tuple[LocalVariant, ...] = tuple(variants)
        self._items = {item.basic_code: item for item in self.items}
        self._ordinals = {item.basic_code: n for n, item in enumerate(self.items)}
        self._themes = {theme.code: theme for theme in self.themes}
        self._variant_names = {(v.basic_code, v.region_code): v.local_name for v in self.variants}
        self.departments: tuple[str, ...] = tuple(sorted({i.department for i in self.items}))
        self.item_types: tuple[str, ...] = tuple(sorted({i.item_type for i in self.items}))
        self.audiences: tuple[str, ...] = tuple(sorted({a for i in self.items for a in i.audience}))

    @classmethod
    def load(cls, data_dir: Path | str = PACKAGED_DATA) -> ReferenceData:
        data_dir = Path(data_dir)

        def read(name: str) -> list[dict[str, Any]]:
            return json.loads((data_dir / name).read_text(encoding="utf-8"))

        return cls(
            regions=RegionTree.from_records(read("regions.json")),
            items=[BasicItem.from_record(r) for r in read("items.json")],
            themes=[Theme.from_record(r) for r in read("themes.json")],
            variants=[LocalVariant(basic_code=r["basic_code"], region_code=r["region_code"],
                                   local_name=r["local_name"], pattern=r["pattern"],
                                   source=r["source"])
                      for r in read("local_variants.json")],
        )

    def item(self, basic_code: str) -> BasicItem:
        try:
            return self._items[basic_code]
        except (KeyError, TypeError):
            raise ItemNotFound(f"未找到事项: {basic_code!r}", details={"basic_code": basic_code}) from None

    def ordinal(self, basic_code: str) -> int:
        return self._ordinals[basic_code]

    def theme(self, code: str) -> Theme:
        try:
            return self._themes[code]
        except (KeyError, TypeError):
            raise ThemeNotFound(f"未找到主题: {code!r}", details={"theme": code}) from None

    def local_name(self, basic_code: str, region_code: str | None) -> str:
        """Name of the basic item as implemented at `region_code` (6-digit
        city/county or 9-digit township code); official name otherwise."""
        item = self.item(basic_code)
        if region_code is None:
            return item.name
        county_or_city = region_code[:6]
        for code in (region_code, county_or_city, county_or_city[:4] + "00"):
            if code == self.regions.province.code:
                break
            name = self._variant_names.get((basic_code, code))
            if name is not None:
                return name
        return item.name

    def variant_names(self, basic_code: str) -> list[str]:
        return [v.local_name for v in self.variants if v.basic_code == basic_code]

    def variant_regions(self) -> set[str]:
        return {v.region_code for v in self.variants}
