from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.errors import InvalidQuery

_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_TEXT = st.text(alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from("身份证辦結婚農藥sfz ")),
                max_size=60)


@_SETTINGS
@given(q=_TEXT, region=st.sampled_from([None, "150000", "150200", "150203", "152921"]))
def test_any_text_either_searches_or_is_rejected_as_invalid_query(cat, q, region):
    try:
        result = cat.search(q, region=region, page_size=5)
    except InvalidQuery:
        return
    codes = [hit.basic_code for hit in result.items]
    assert len(codes) == len(set(codes)) <= 5
    assert result.total >= len(codes)
    assert all(hit.highlight.replace("<em>", "").replace("</em>", "") for hit in result.items)


@_SETTINGS
@given(q=_TEXT)
def test_any_text_either_suggests_or_is_rejected_as_invalid_query(cat, q):
    try:
        suggestions = cat.suggest(q, region="150203")
    except InvalidQuery:
        return
    assert len(suggestions) <= 10


def test_region_tree(cat):
    regions = cat.regions
    assert [r.name for r in regions.chain("150203")] == ["昆都仑区", "包头市", "内蒙古自治区"]
    assert len(regions.cities()) == 12
    assert len(regions.counties("150700")) == 14
    assert len(regions.all_counties()) == 103
    assert regions.is_known("152501") and regions.get("152501").plan_listed
    assert not regions.is_known("150271") and not regions.is_known(150203)
    assert regions.get("150200").to_dict()["level"] == "city"
