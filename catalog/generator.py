"""Generate the region-level implementation list (实施清单) from the basic
catalogue: every basic item is implemented at each level in its `levels`
(province, 12 盟市, 103 旗县, synthetic 苏木乡镇), and each implementation is
split into 业务办理项 (首次申请/变更/延续/注销 …) by item type. Full scale
yields ≈502k entries.

`scale` < 1 samples counties, townships and extra handle items
deterministically but always keeps all basic items, all 盟市, every region
named in local_variants.json and the first county of each 盟市.

Who serves whom is decided here, once: `serves` lists the city/county codes
(and "*" for the region-wide canonical entry) for which an implementation is
the one to show. A county is served by its own implementation, else its
city's, else the province's; a city by its own, else the province's, else its
first county's (items only counties implement). Township entries serve only
for township-only items (the county's first township, the seat). The
canonical entry is the highest-level implementation (province, else the
first city's, else the first county's).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator

from catalog import details
from catalog.hashing import stable_fraction, stable_int
from catalog.model import BasicItem, ReferenceData
from catalog.regions import CITY, COUNTY, PROVINCE, TOWNSHIP, Region
from catalog.townships import Township, townships_of

CANONICAL = "*"
_HANDLES_BY_TYPE: dict[str, tuple[tuple[str, ...], int]] = {  # candidates, minimum kept
    "行政许可": (("首次申请", "变更", "延续", "注销", "补办", "补发"), 4),
    "行政确认": (("首次申请", "变更", "补发", "注销"), 3),
    "行政给付": (("申请", "待遇变更", "停发", "补发"), 2),
    "其他行政权力": (("备案", "变更备案", "注销备案", "补发"), 3),
    "公共服务": (("办理", "变更", "查询", "补办", "注销"), 1),
    "行政征收": (("申报", "缴纳", "变更"), 2),
    "行政奖励": (("申报", "变更"), 1),
    "行政裁决": (("申请", "变更"), 1),
}
MAX_HANDLES = max(len(candidates) for candidates, _ in _HANDLES_BY_TYPE.values())


@dataclass(frozen=True)
class Entry:
    """One implementation entry (实施清单 row × 业务办理项)."""
    basic_code: str
    implementation_code: str
    handle_index: int
    handle_name: str
    level: str
    region_code: str
    region_name: str
    local_name: str
    department_full: str
    department_code: str
    address: str
    office_hours: str
    phone: str
    is_online: bool
    online_url: str | None
    mobile_path: str | None
    conditions: str
    serves: tuple[str, ...]


@dataclass(frozen=True)
class Scope:
    """The regions a build covers at a given scale."""
    counties_by_city: dict[str, list[Region]]
    townships_by_county: dict[str, list[Township]]

    def counties(self) -> list[Region]:
        return [c for counties in self.counties_by_city.values() for c in counties]


def plan_scope(ref: ReferenceData, scale: float) -> Scope:
    must_keep = ref.variant_regions()
    counties_by_city: dict[str, list[Region]] = {}
    townships_by_county: dict[str, list[Township]] = {}
    for city in ref.regions.cities():
        counties = ref.regions.counties(city.code)
        kept = [c for n, c in enumerate(counties)
                if n == 0 or c.code in must_keep or stable_fraction("county", c.code) < scale]
        counties_by_city[city.code] = kept
        for county in kept:
            towns = townships_of(county)
            townships_by_county[county.code] = towns[:max(1, round(len(towns) * min(scale, 1.0)))]
    return Scope(counties_by_city, townships_by_county)


def handle_names(item: BasicItem) -> tuple[str, ...]:
    candidates, minimum = _HANDLES_BY_TYPE[item.item_type]
    count = minimum + stable_int("handles", item.basic_code) % (len(candidates) - minimum + 1)
    return candidates[:count]


@dataclass(frozen=True)
class _Site:
    level: str
    code: str
    name: str
    city: Region | None
    county: Region | None


def _sites(ref: ReferenceData, scope: Scope) -> Iterator[_Site]:
    """Regions in tree order, so each region's entries are contiguous in the
    index (cheap intersections with the `serves` filter)."""
    yield _Site(PROVINCE, ref.regions.province.code, ref.regions.province.name, None, None)
    for city in ref.regions.cities():
        yield _Site(CITY, city.code, city.name, city, None)
        for county in scope.counties_by_city[city.code]:
            yield _Site(COUNTY, county.code, county.name, city, county)
            for town in scope.townships_by_county[county.code]:
                yield _Site(TOWNSHIP, town.code, town.name, city, county)


def _serving_sites(ref: ReferenceData, scope: Scope, item: BasicItem) -> dict[str, list[str]]:
    """Implementation site code → region codes it serves, for one item."""
    levels = set(item.levels)
    province = ref.regions.province.code
    first_township = {c: towns[0].code for c, towns in scope.townships_by_county.items()}

    def holder_below_city(city_code: str) -> str:
        first_county = scope.counties_by_city[city_code][0].code
        return first_county if COUNTY in levels else first_township[first_county]

    def city_holder(city_code: str) -> str:
        if CITY in levels:
            return city_code
        return province if PROVINCE in levels else holder_below_city(city_code)

    def county_holder(county: Region) -> str:
        if COUNTY in levels:
            return county.code
        if CITY in levels:
            return county.parent  # type: ignore[return-value]
        return province if PROVINCE in levels else first_township[county.code]

    serves: dict[str, list[str]] = defaultdict(list)
    first_city = ref.regions.cities()[0].code
    serves[province if PROVINCE in levels else city_holder(first_city)].append(CANONICAL)
    for city in ref.regions.cities():
        serves[city_holder(city.code)].append(city.code)
        for county in scope.counties_by_city[city.code]:
            serves[county_holder(county)].append(county.code)
    return serves


def generate(ref: ReferenceData, scale: float = 1.0) -> Iterator[Entry]:
    if not 0 < scale <= 1:
        raise ValueError("scale must be in (0, 1]")
    scope = plan_scope(ref, scale)
    serving = {item.basic_code: _serving_sites(ref, scope, item) for item in ref.items}
    for site in _sites(ref, scope):
        for item in ref.items:
            if site.level in item.levels:
                yield from _entries(ref, item, site, tuple(serving[item.basic_code].get(site.code, ())), scale)


def _entries(ref: ReferenceData, item: BasicItem, site: _Site, serves: tuple[str, ...],
             scale: float) -> Iterator[Entry]:
    city_name = site.city.name if site.city else ""
    county_name = site.county.name if site.county else ""
    department_full = details.department_full_name(
        item.department, site.level, site.name, city_name,
        site.county.kind if site.county else None)
    department_code = details.uscc(department_full, site.code)
    area = site.code.ljust(12, "0")
    local_name = ref.local_name(item.basic_code, None if site.level == PROVINCE else site.code)
    address = details.service_address(site.level, site.name, county_name,
                                      details.local_department(item.department, site.level))
    for index, handle in enumerate(handle_names(item), start=1):
        if index > 1 and stable_fraction("handle", item.basic_code, site.code, index) >= scale:
            continue
        code = f"{item.basic_code}-{area}-000-{department_code}-{index}-00"
        online_url, mobile_path = details.online_urls(code, item.online_depth)
        yield Entry(
            basic_code=item.basic_code, implementation_code=code, handle_index=index,
            handle_name=handle, level=site.level, region_code=site.code, region_name=site.name,
            local_name=local_name, department_full=department_full,
            department_code=department_code, address=address,
            office_hours=details.office_hours(site.code),
            phone=details.phone(site.code, department_full),
            is_online=online_url is not None, online_url=online_url, mobile_path=mobile_path,
            conditions=details.conditions(item, handle), serves=serves,
        )
