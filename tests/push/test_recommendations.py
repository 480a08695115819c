"""猜你想办: results follow behaviour, life stage and region, and every item says why in Chinese."""
from __future__ import annotations

from datetime import date

import pytest

from push.errors import UnknownRegion


def codes(recommendations) -> list[str]:
    return [r["basic_code"] for r in recommendations]


def test_recommendations_change_after_behaviour_events_and_carry_reasons(service, citizens) -> None:
    citizen = citizens.make(region="150102", birth=date(1994, 6, 1))
    before = service.recommendations(citizen["account_id"])
    assert before and all(r["reason_code"] in ("popular", "popular_region") for r in before)

    service.record_events(citizen["account_id"], [{"type": "search", "query": "出生医学证明"}])
    after = service.recommendations(citizen["account_id"])
    assert after != before
    top = after[0]
    assert top["basic_code"] == "B0165" and top["reason"] == "您最近搜索了“出生医学证明”"
    birth_registration = next(r for r in after if r["basic_code"] == "B0007")
    assert birth_registration["reason"] == "您最近搜索了“出生医学证明”，新生儿出生一件事还包括“出生登记”"
    assert birth_registration["theme"] == {"code": "T01", "name": "新生儿出生一件事"}

    service.record_events(citizen["account_id"], [{"type": "start", "item": "B0007"}])
    in_progress = service.recommendations(citizen["account_id"])[0]
    assert in_progress["basic_code"] == "B0007" and in_progress["reason_code"] == "in_progress"
    assert in_progress["reason"].startswith("您已开始办理“出生登记”")

    service.record_events(citizen["account_id"], [{"type": "finish", "item": "B0007"}, {"type": "finish", "item": "B0165"}])
    done = service.recommendations(citizen["account_id"], limit=20)
    assert "B0007" not in codes(done) and "B0165" not in codes(done)  # handled items are never recommended
    assert any(r["reason"].startswith("您已办理“") and r["theme"]["code"] == "T01" for r in done)
    assert all(r["reason"] for r in done)


def test_life_stage_from_the_verified_id(service, citizens) -> None:
    retiring = citizens.make(birth=date(1968, 1, 10))  # 58
    senior = citizens.make(birth=date(1944, 1, 10))  # 82
    young = citizens.make(birth=date(2000, 1, 10))
    soon = service.recommendations(retiring["account_id"])
    assert soon[0]["reason_code"] == "life_stage" and soon[0]["reason"].startswith("您即将到达退休年龄")
    assert soon[0]["theme"]["code"] == "T05"
    elder = service.recommendations(senior["account_id"])
    assert elder[0]["basic_code"] == "B0083" and elder[0]["reason"] == "您已年满80周岁，可申领高龄津贴"
    assert any(r["reason"].startswith("您已年满60周岁") for r in elder)
    assert not any(r["reason_code"] == "life_stage" for r in service.recommendations(young["account_id"]))


def test_anonymous_users_get_regional_popularity(service, citizens) -> None:
    for _ in range(3):
        service.record_events(None, [{"type": "finish", "item": "B0341"}], region="150102")
    local = service.recommendations(None, region="150102")
    assert len(local) <= 5
    assert local[0]["basic_code"] == "B0341" and local[0]["reason"] == "呼和浩特市新城区居民近期常办"
    elsewhere = service.recommendations(None, region="150203")
    assert "B0341" not in codes(elsewhere) and elsewhere[0]["reason"].endswith("热门服务")
    assert service.recommendations(None)[0]["reason"] == "内蒙古热门服务"
    with pytest.raises(UnknownRegion):
        service.recommendations(None, region="999999")
