"""The cache header policy of bff.caching.headers, walked over every route of the app.

Tokens, operator answers and errors: ``no-store`` (+ ``Pragma: no-cache``). A citizen's or an operator's
personal data: ``private, no-store`` (+ ``Pragma``). Anonymous catalogue answers: ``public`` with a max-age.
Nothing personal, and nothing that carries a token, is ever cacheable.
"""
from __future__ import annotations

import re

import pytest

from tests.bff.auth.conftest import OPERATOR_PASSWORD, Citizen, Drive, bearer

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PRIVATE_NO_STORE = {"Cache-Control": "private, no-store", "Pragma": "no-cache"}
PUBLIC = re.compile(r"^public, max-age=([1-9][0-9]*)$")
# Anonymous GETs that answer 200 without any input: everyone may cache them (or, for the probes and
# the spec, nobody shares them: the default ``private, no-cache``).
ANONYMOUS_OK = {
    "/.well-known/jwks.json": "public", "/v1/home": "public", "/v1/items/hot": "public",
    "/v1/recommendations": "public", "/v1/themes": "public",
    "/healthz": "default", "/readyz": "default", "/openapi.json": "default",
}


def cache_headers(response) -> dict[str, str | None]:
    return {"Cache-Control": response.headers.get("Cache-Control"), "Pragma": response.headers.get("Pragma")}


def assert_public(response) -> None:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert PUBLIC.match(response.headers.get("Cache-Control", "")), response.headers.get("Cache-Control")
    assert "Pragma" not in response.headers


def assert_never_cacheable(response, expected: dict[str, str]) -> None:
    assert cache_headers(response) == expected, (response.status_code, response.get_data(as_text=True)[:200])
    assert "public" not in response.headers["Cache-Control"]


@pytest.fixture
def citizen(client, sandbox) -> Citizen:
    return Citizen(client, Drive(sandbox))


@pytest.fixture
def operator_login(app, client) -> dict:
    app.extensions["services"].identity.operators.create("ops.headers", OPERATOR_PASSWORD, ["editor"])
    response = client.post("/v1/admin/auth/login", json={"username": "ops.headers", "password": OPERATOR_PASSWORD})
    assert_never_cacheable(response, NO_STORE)
    return response.get_json()


def test_every_route_answers_errors_no_store_and_anonymous_200s_by_policy(app, client):
    walked = 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or rule.rule.startswith(("/console", "/docs")):
            continue  # the console's assets: REVALIDATE, tested in tests/console
        path = re.sub(r"<[^>]+>", "x", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, json=None if method == "GET" else {})
            walked += 1
            if response.status_code >= 400:
                assert_never_cacheable(response, NO_STORE)
                continue
            policy = ANONYMOUS_OK.get(path)
            assert method == "GET" and policy is not None, f"{method} {path} answered {response.status_code} anonymously"
            if policy == "public":
                assert_public(response)
            else:
                assert cache_headers(response) == {"Cache-Control": "private, no-cache", "Pragma": None}
    assert walked >= 60  # every route group: catalogue, home, auth, me, push, admin, channels, health, metrics


def test_public_catalogue_answers_are_public_with_a_max_age(client):
    search = client.get("/v1/items/search", query_string={"q": "营业执照"})
    assert_public(search)
    code = search.get_json()["items"][0]["basic_code"]
    theme = client.get("/v1/themes").get_json()["themes"][0]["code"]
    for path in ("/v1/items/suggest?q=营业", "/v1/items/hot", f"/v1/items/{code}", "/v1/themes",
                 f"/v1/themes/{theme}", "/v1/home", "/v1/recommendations", "/.well-known/jwks.json"):
        assert_public(client.get(path))
    # A 304 keeps the policy of the 200 it stands for.
    again = client.get("/v1/items/search", query_string={"q": "营业执照"}, headers={"If-None-Match": search.headers["ETag"]})
    assert again.status_code == 304 and again.headers["Cache-Control"] == search.headers["Cache-Control"]


def test_token_answers_are_no_store_and_personal_answers_private_no_store(client, citizen):
    phone = "13900000417"
    assert_never_cacheable(citizen.post("/v1/auth/sms/send", {"phone": phone}), NO_STORE)
    login = citizen.post("/v1/auth/app/login", {"phone": phone, "sms_code": citizen.drive.sms_code(phone)})
    assert "access_token" in login.get_json()
    assert_never_cacheable(login, NO_STORE)
    tokens = login.get_json()
    refreshed = citizen.post("/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert "access_token" in refreshed.get_json()
    assert_never_cacheable(refreshed, NO_STORE)
    token = refreshed.get_json()["access_token"]

    for path in ("/v1/me", "/v1/home", "/v1/recommendations", "/v1/messages", "/v1/messages/unread-count",
                 "/v1/subscriptions"):
        response = citizen.get(path, token)
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        assert_never_cacheable(response, PRIVATE_NO_STORE)
    preferences = client.put("/v1/me/preferences", json={"mode": "elder"}, headers=bearer(token))
    assert_never_cacheable(preferences, PRIVATE_NO_STORE)
    # A bad token on an optional-auth route is an error, not an anonymous public answer.
    assert_never_cacheable(citizen.get("/v1/home", "not-a-token"), NO_STORE)

    logout = citizen.post("/v1/auth/logout", {}, token)
    assert logout.status_code == 204
    assert_never_cacheable(logout, NO_STORE)


def test_operator_answers_are_never_shared(client, operator_login):
    token = operator_login["access_token"]
    me = client.get("/v1/admin/me", headers=bearer(token))
    assert me.status_code == 200 and me.get_json()["username"] == "ops.headers"
    assert_never_cacheable(me, PRIVATE_NO_STORE)
    campaigns = client.get("/v1/admin/campaigns", headers=bearer(token))
    assert campaigns.status_code == 200
    assert_never_cacheable(campaigns, NO_STORE)
    # The region tree is reference data: the operator's browser may keep it, a proxy may not.
    regions = client.get("/v1/admin/regions", headers=bearer(token))
    assert regions.status_code == 200 and regions.headers["Cache-Control"] == "private, max-age=300"
    refreshed = client.post("/v1/admin/auth/refresh", json={"refresh_token": operator_login["refresh_token"]})
    assert "access_token" in refreshed.get_json()
    assert_never_cacheable(refreshed, NO_STORE)
    logout = client.post("/v1/admin/auth/logout", headers=bearer(refreshed.get_json()["access_token"]))
    assert logout.status_code == 204
    assert_never_cacheable(logout, NO_STORE)
