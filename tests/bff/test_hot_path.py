"""Anonymous public cache hits answered before Flask (bff/caching/hot_path.py)."""
from __future__ import annotations

import logging

import pytest

from bff import create_app
from push.campaigns import CAMPAIGN_STATE_CHANGED

SEARCH = "/v1/items/search?q=%E5%8A%9E%E8%BA%AB%E4%BB%BD%E8%AF%81&region=150203"
HOME = "/v1/home?region=150102"


@pytest.fixture
def hot_client(settings, redis_client):
    return create_app(settings.with_changes(hot_path_seconds=30.0)).test_client()


def test_a_repeated_anonymous_request_is_answered_before_flask_with_the_same_answer(hot_client):
    first = hot_client.get(SEARCH)
    again = hot_client.get(SEARCH, headers={"X-Request-ID": "hot-0000001"})
    assert first.headers["X-Cache"] == "miss" and again.headers["X-Cache"] == "hot"
    assert again.get_data() == first.get_data()
    for header in ("ETag", "Cache-Control", "Vary", "Content-Type", "Content-Language"):
        assert again.headers[header] == first.headers[header]
    assert again.headers["X-Request-ID"] == "hot-0000001"
    assert int(again.headers["Content-Length"]) == len(again.get_data())


@pytest.mark.parametrize("headers", [
    {"X-Client-Mode": "elder"},
    {"Accept-Language": "mn"},
    {"X-Client-Channel": "wechat"},
])
def test_variants_are_never_crossed(hot_client, headers):
    standard = hot_client.get(HOME)
    hot_client.get(HOME)  # now remembered for the standard, Chinese APP client
    variant = hot_client.get(HOME, headers=headers)
    assert variant.headers["X-Cache"] != "hot"
    assert variant.get_data() != standard.get_data()
    assert hot_client.get(HOME, headers=headers).headers["X-Cache"] == "hot"


def test_personal_and_conditional_requests_go_through_flask(hot_client):
    first = hot_client.get(HOME)
    hot_client.get(HOME)
    conditional = hot_client.get(HOME, headers={"If-None-Match": first.headers["ETag"]})
    assert conditional.status_code == 304
    with_token = hot_client.get(HOME, headers={"Authorization": "Bearer not-a-token"})
    assert with_token.status_code == 401


def test_invalidating_notices_forgets_at_once(hot_client):
    hot_client.get(HOME)
    assert hot_client.get(HOME).headers["X-Cache"] == "hot"
    events = hot_client.application.extensions["services"].events
    events.publish(CAMPAIGN_STATE_CHANGED, campaign_id="c1", status="running", previous="scheduled", category="policy")
    assert hot_client.get(HOME).headers["X-Cache"] == "miss"


def test_hot_answers_are_logged_like_any_request(hot_client, caplog):
    hot_client.get(SEARCH)
    caplog.set_level(logging.INFO, logger="msb.request")
    hot_client.get(SEARCH, headers={"X-Request-ID": "hot-0000002"})
    fields = [r.fields for r in caplog.records if r.name == "msb.request"][-1]
    assert (fields["path"], fields["status"], fields["request_id"], fields["cache"]) == (
        "/v1/items/search", 200, "hot-0000002", "hot")
