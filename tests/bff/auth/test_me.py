"""GET /v1/me and preferences."""
from __future__ import annotations

from tests.bff.auth.conftest import assert_envelope, bearer


def test_me_is_private_and_masked(citizen):
    app = citizen.sms_login("13700471021")
    response = citizen.get("/v1/me", app["access_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    body = response.get_json()
    assert body["phones_masked"] == ["137****1021"]
    assert "13700471021" not in response.get_data(as_text=True)
    assert body["preferences"] == {
        "mode": "standard", "language": "zh", "home_region": None, "push_opt_outs": {"marketing": [], "policy": []},
    }
    assert body["enterprises"] == [] and body["acting_for"] is None
    assert body["realname_level"] == 2 and body["realname_level_name"] == "二级"


def test_preferences_change_only_what_is_given(citizen):
    token = citizen.sms_login("13700471022")["access_token"]
    put = lambda body: citizen.client.put("/v1/me/preferences", json=body, headers=bearer(token))  # noqa: E731
    first = citizen.ok(put({"mode": "elder", "language": "mn", "home_region": "150203"}))
    assert first["mode"] == "elder" and first["language"] == "mn" and first["home_region"] == "150203"
    second = citizen.ok(put({"push_opt_outs": {"marketing": ["wechat", "app"]}}))
    assert second["mode"] == "elder" and second["push_opt_outs"] == {"marketing": ["app", "wechat"], "policy": []}
    cleared = citizen.ok(put({"home_region": None}))
    assert cleared["home_region"] is None
    assert citizen.me(token)["preferences"] == cleared
    for bad in ({"mode": "dark"}, {"language": "en"}, {"home_region": "15020"}, {"push_opt_outs": {"spam": []}},
                {"push_opt_outs": {"marketing": ["sms"]}}, {"colour": "red"}):
        assert_envelope(put(bad), 422)
