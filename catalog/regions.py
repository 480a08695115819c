"""Inner Mongolia's administrative divisions: province → 12 盟市 → 103 旗县市区."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from catalog.errors import UnknownRegion

PROVINCE, CITY, COUNTY, TOWNSHIP = "province", "city", "county", "township"
_REGION_CODE = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str
    parent: str | None
    kind: str
    plan_listed: bool = False
    # The traditional-script Mongolian name and its Latin transliteration, where the source has them.
    name_mn: str | None = None
    name_mn_translit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RegionTree:
    def __init__(self, regions: Iterable[Region]) -> None:
        self._by_code = {r.code: r for r in regions}
        provinces = [r for r in self._by_code.values() if r.level == PROVINCE]
        if len(provinces) != 1:
            raise ValueError("region tree needs exactly one province")
        self.province = provinces[0]
        self._children: dict[str, list[Region]] = {}
        for region in sorted(self._by_code.values(), key=lambda r: r.code):
            if region.parent is not None:
                self._children.setdefault(region.parent, []).append(region)

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> RegionTree:
        return cls(Region(code=r["code"], name=r["name"], level=r["level"], parent=r["parent"],
                          kind=r["kind"], plan_listed=bool(r.get("plan_listed")),
                          name_mn=r.get("name_mn") or None, name_mn_translit=r.get("name_mn_translit") or None)
                   for r in records)

    def is_known(self, code: object) -> bool:
        return isinstance(code, str) and code in self._by_code

    def get(self, code: object) -> Region:
        if not self.is_known(code):
            hint = "" if isinstance(code, str) and _REGION_CODE.match(code) else "（应为6位行政区划代码）"
            raise UnknownRegion(f"未知的行政区划代码: {code!r}{hint}", details={"region": code})
        return self._by_code[code]  # type: ignore[index]

    def chain(self, code: str) -> list[Region]:
        """The region and its ancestors, nearest first: [county, city, province]."""
        chain = [self.get(code)]
        while chain[-1].parent is not None:
            chain.append(self._by_code[chain[-1].parent])
        return chain

    def all(self) -> list[Region]:
        """Every region, by code."""
        return [self._by_code[code] for code in sorted(self._by_code)]

    def cities(self) -> list[Region]:
        return list(self._children.get(self.province.code, []))

    def counties(self, city_code: str) -> list[Region]:
        self.get(city_code)
        return list(self._children.get(city_code, []))

    def all_counties(self) -> list[Region]:
        return [county for city in self.cities() for county in self.counties(city.code)]
