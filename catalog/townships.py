"""Synthetic 苏木乡镇(街道) below each county. The real list is not part of the
reference data, so townships are generated deterministically: 8–13 per county,
9-digit codes `{county}{001..}`, suffixes by county kind (市辖区 → 街道,
banners → 苏木/镇, others → 镇/乡/街道)."""
from __future__ import annotations

from dataclasses import dataclass

from catalog.hashing import stable_int
from catalog.regions import Region

_STEMS = (
    "巴彦", "乌兰", "白音", "查干", "哈达", "宝力格", "额尔敦", "阿拉坦", "赛汗", "沙尔沁",
    "新华", "胜利", "团结", "和平", "东风", "兴隆", "太平", "永丰", "红旗", "前进",
    "朝阳", "建设", "光明", "长青", "青山", "金川", "河西", "城关", "西园", "东城",
    "五一", "幸福", "富民", "兴旺", "丰收", "清泉", "北沙", "南梁", "德胜", "双龙",
    "乌素", "图克", "敖包", "那日", "塔拉", "呼和", "锡林", "伊和", "布敦", "浩特",
)
_SUFFIXES_BY_KIND = {
    "市辖区": ("街道", "街道", "街道", "镇"),
    "旗": ("苏木", "镇", "苏木", "镇", "街道"),
    "自治旗": ("苏木", "镇", "乡", "街道"),
}
_DEFAULT_SUFFIXES = ("镇", "乡", "镇", "街道")
MIN_PER_COUNTY, MAX_PER_COUNTY = 8, 13


@dataclass(frozen=True)
class Township:
    code: str
    name: str
    county_code: str


def townships_of(county: Region) -> list[Township]:
    count = MIN_PER_COUNTY + stable_int("township-count", county.code) % (MAX_PER_COUNTY - MIN_PER_COUNTY + 1)
    suffixes = _SUFFIXES_BY_KIND.get(county.kind, _DEFAULT_SUFFIXES)
    used: set[str] = set()
    towns = []
    for n in range(1, count + 1):
        salt = 0
        while True:
            seed = stable_int("township-name", county.code, n, salt)
            name = _STEMS[seed % len(_STEMS)] + suffixes[(seed // 7) % len(suffixes)]
            if name not in used:
                break
            salt += 1
        used.add(name)
        towns.append(Township(code=f"{county.code}{n:03d}", name=name, county_code=county.code))
    return towns
