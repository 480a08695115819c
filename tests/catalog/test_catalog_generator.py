import re
from collections import Counter, defaultdict

import pytest

from catalog.generator import CANONICAL, generate, handle_names, plan_scope
from catalog.townships import townships_of

SCALE = 0.02
IMPLEMENTATION_CODE = re.compile(r"^B\d{4}-\d{12}-000-11\d{6}[0-9A-Z]{10}-\d-00$")


@pytest.fixture(scope="module")
def entries(ref):
    return list(generate(ref, SCALE))


def test_generation_is_deterministic(ref, entries):
    assert list(generate(ref, SCALE)) == entries


def test_reduced_scale_keeps_every_item_city_and_variant_region(ref, entries):
    assert {e.basic_code for e in entries} == {i.basic_code for i in ref.items}
    regions = {e.region_code for e in entries}
    assert {c.code for c in ref.regions.cities()} <= regions
    counties = {c.code for c in plan_scope(ref, SCALE).counties()}
    assert {v.region_code for v in ref.variants if ref.regions.get(v.region_code).level == "county"} <= counties
    assert 5_000 < len(entries) < 30_000


def test_scale_grows_the_catalogue(ref):
    small, larger = plan_scope(ref, 0.02), plan_scope(ref, 0.5)
    assert len(small.counties()) < len(larger.counties()) <= 103
    assert len(plan_scope(ref, 1.0).counties()) == 103


def test_full_scale_size_is_about_502k(ref):
    scope = plan_scope(ref, 1.0)
    townships = sum(len(t) for t in scope.townships_by_county.values())
    per_level = {"province": 1, "city": 12, "county": 103, "township": townships}
    expected = sum(len(handle_names(item)) * sum(per_level[level] for level in item.levels)
                   for item in ref.items)
    assert 495_000 <= expected <= 510_000


def test_entries_are_well_formed(ref, entries):
    for entry in entries[:: max(1, len(entries) // 500)]:
        assert IMPLEMENTATION_CODE.match(entry.implementation_code), entry.implementation_code
        assert entry.implementation_code.endswith(f"-{entry.handle_index}-00")
        assert re.fullmatch(r"04\d{2}-\d{7}", entry.phone)
        assert entry.region_name in entry.address
        assert (entry.online_url is not None) == entry.is_online
        assert len(entry.region_code) == (9 if entry.level == "township" else 6)


def test_licences_split_into_standard_handle_items(ref):
    licence = ref.item("B0356")
    assert handle_names(licence)[:4] == ("首次申请", "变更", "延续", "注销")


def test_townships_are_deterministic_and_coded_under_their_county(ref):
    county = ref.regions.get("150203")
    towns = townships_of(county)
    assert towns == townships_of(county)
    assert 8 <= len(towns) <= 13
    assert all(t.code.startswith("150203") and len(t.code) == 9 for t in towns)
    assert all(t.name.endswith(("街道", "镇", "苏木", "乡")) for t in towns)
    assert len({t.name for t in towns}) == len(towns)


def test_each_region_is_served_exactly_once_per_item(ref, entries):
    served = defaultdict(set)
    for entry in entries:
        for region in entry.serves:
            served[(entry.basic_code, region)].add(entry.implementation_code.rsplit("-", 2)[0])
    regions = [CANONICAL, *(c.code for c in ref.regions.cities()),
               *(c.code for c in plan_scope(ref, SCALE).counties())]
    for item in ref.items:
        for region in regions:
            assert len(served[(item.basic_code, region)]) == 1, (item.basic_code, region)


def test_serving_follows_county_city_province(ref, entries):
    serving_level = {(e.basic_code, r): e.level for e in entries for r in e.serves}
    assert serving_level[("B0356", "150203")] == "county"      # province/city/county item
    assert serving_level[("B0356", "150200")] == "city"
    assert serving_level[("B0356", CANONICAL)] == "province"
    assert serving_level[("B0372", "150121")] == "township"    # township-only item
    city_only = next(i for i in ref.items if i.levels == ("city",))
    assert serving_level[(city_only.basic_code, "150203")] == "city"


def test_local_names_inherit_from_the_city(entries):
    names = {(e.basic_code, e.region_code): e.local_name for e in entries}
    assert names[("B0356", "150200")] == "限制使用农药的定点经营许可证首次申请"
    assert names[("B0356", "150203")] == "限制使用农药的定点经营许可证首次申请"
    assert names[("B0356", "150102")] == "农药经营许可证核发（其他农药）"  # county's own variant
    assert names[("B0356", "150000")] == "农药经营许可"


def test_handle_items_are_sampled_at_reduced_scale(entries):
    per_implementation = Counter(e.implementation_code.rsplit("-", 2)[0] for e in entries)
    assert max(per_implementation.values()) > 1
    assert Counter(per_implementation.values())[1] > len(per_implementation) / 2


def test_department_codes_carry_valid_check_characters(entries):
    charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    for code in {e.department_code for e in entries[::50]}:
        total = sum(charset.index(ch) * w for ch, w in zip(code[:17], weights))
        assert code[17] == charset[(31 - total % 31) % 31], code
        assert code[2:8] in {e.region_code[:6] for e in entries if e.department_code == code}
