"""Refresh rotation and reuse detection, logout, JWKS (checked with a second JOSE library), operators."""
from __future__ import annotations

import json

from jwcrypto import jwk, jwt as jose_jwt

from tests.bff.auth.conftest import assert_envelope, claims_of


def refresh(citizen, token: str, path: str = "/v1/auth/refresh"):
    return citizen.post(path, {"refresh_token": token})


def test_refresh_rotates_on_every_use(citizen):
    _, login = citizen.new_wechat()
    response = refresh(citizen, login["refresh_token"])
    first = citizen.ok(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert first["refresh_token"] != login["refresh_token"]
    assert first["account"]["id"] == login["account"]["id"]
    assert claims_of(first["access_token"])["sid"] == claims_of(login["access_token"])["sid"]
    second = citizen.ok(refresh(citizen, first["refresh_token"]))
    assert second["refresh_token"] not in (first["refresh_token"], login["refresh_token"])
    assert citizen.me(second["access_token"])["id"] == login["account"]["id"]


def test_lost_response_grace_returns_the_same_successor(citizen):
    _, login = citizen.new_wechat()
    first = citizen.ok(refresh(citizen, login["refresh_token"]))
    retry = citizen.ok(refresh(citizen, login["refresh_token"]))  # the first answer never arrived
    assert retry["refresh_token"] == first["refresh_token"]
    assert citizen.ok(refresh(citizen, retry["refresh_token"]))["account"]["id"] == login["account"]["id"]


def test_replaying_a_rotated_token_revokes_the_family(citizen):
    _, login = citizen.new_wechat()
    first = citizen.ok(refresh(citizen, login["refresh_token"]))
    second = citizen.ok(refresh(citizen, first["refresh_token"]))  # successor used: grace is over
    replay = refresh(citizen, login["refresh_token"])
    body = assert_envelope(replay, 401, "refresh_token_reused")
    assert replay.headers["WWW-Authenticate"].startswith("Bearer")
    assert body["errors"] == {}
    # the whole session is gone: the latest refresh token and the live access tokens
    assert_envelope(refresh(citizen, second["refresh_token"]), 401)
    assert_envelope(citizen.get("/v1/me", second["access_token"]), 401, "token_invalid")
    assert_envelope(citizen.get("/v1/me", login["access_token"]), 401, "token_invalid")


def test_logout_this_device_then_all_devices(citizen):
    user, phone_a = citizen.new_wechat()
    device_b = citizen.wechat_login(user["user_id"])
    device_c = citizen.wechat_login(user["user_id"])
    out = citizen.post("/v1/auth/logout", {}, phone_a["access_token"])
    assert out.status_code == 204 and out.get_data() == b""
    assert_envelope(citizen.get("/v1/me", phone_a["access_token"]), 401, "token_invalid")
    assert_envelope(refresh(citizen, phone_a["refresh_token"]), 401, "refresh_token_invalid")
    assert citizen.me(device_b["access_token"])["id"] == phone_a["account"]["id"]  # other devices untouched
    everywhere = citizen.post("/v1/auth/logout", {"all_devices": True}, device_b["access_token"])
    assert everywhere.status_code == 204
    for device in (device_b, device_c):
        assert_envelope(citizen.get("/v1/me", device["access_token"]), 401)
        assert_envelope(refresh(citizen, device["refresh_token"]), 401)


def test_jwks_verifies_tokens_with_an_independent_jose_library(citizen):
    _, login = citizen.new_wechat()
    response = citizen.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    keys = response.get_json()["keys"]
    assert keys and all(set(k) >= {"kty", "crv", "x", "y", "kid"} and "d" not in k for k in keys)
    key_set = jwk.JWKSet.from_json(response.get_data(as_text=True))
    token = jose_jwt.JWT(
        jwt=login["access_token"],
        key=key_set,
        algs=["ES256"],
        check_claims={"aud": "msb-wechat", "iss": "https://msb.zwfw.nmg.gov.cn", "exp": None, "sub": login["account"]["id"]},
        expected_type="JWS",
    )
    header = json.loads(token.header)
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256" and header["kid"] in {k["kid"] for k in keys}
    assert json.loads(token.claims)["sub"] == login["account"]["id"]


def test_operator_login_me_refresh_logout(citizen, operator):
    response = citizen.post("/v1/admin/auth/login", {"username": operator["username"], "password": operator["password"]})
    pair = citizen.ok(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert claims_of(pair["access_token"])["aud"] == "msb-console"
    assert pair["account"] == {"id": operator["id"], "type": "operator", "realname_level": None, "bindings": []}
    me = citizen.ok(citizen.get("/v1/admin/me", pair["access_token"]))
    assert me == {"id": operator["id"], "type": "operator", "username": "ops.alice", "roles": ["editor"]}
    rotated = citizen.ok(refresh(citizen, pair["refresh_token"], "/v1/admin/auth/refresh"))
    assert rotated["refresh_token"] != pair["refresh_token"]
    assert citizen.post("/v1/admin/auth/logout", {}, rotated["access_token"]).status_code == 204
    assert_envelope(citizen.get("/v1/admin/me", rotated["access_token"]), 401)


def test_wrong_operator_password_is_401(citizen, operator):
    response = citizen.post("/v1/admin/auth/login", {"username": operator["username"], "password": "wrong password!!"})
    assert_envelope(response, 401, "operator_credentials_invalid")
    unknown = citizen.post("/v1/admin/auth/login", {"username": "nobody", "password": "wrong password!!"})
    assert_envelope(unknown, 401, "operator_credentials_invalid")


def test_tokens_do_not_cross_between_citizens_and_operators(citizen, operator):
    _, login = citizen.new_wechat()
    op = citizen.ok(citizen.post("/v1/admin/auth/login", {"username": operator["username"], "password": operator["password"]}))
    assert_envelope(citizen.get("/v1/me", op["access_token"]), 401, "token_invalid")
    assert_envelope(citizen.get("/v1/admin/me", login["access_token"]), 401, "token_invalid")
    # a refresh token at the other kind's endpoint ends that session
    assert_envelope(refresh(citizen, op["refresh_token"]), 401, "refresh_token_invalid")
    assert_envelope(citizen.get("/v1/admin/me", op["access_token"]), 401)
    assert_envelope(refresh(citizen, login["refresh_token"], "/v1/admin/auth/refresh"), 401, "refresh_token_invalid")
    assert_envelope(citizen.get("/v1/me", login["access_token"]), 401)
