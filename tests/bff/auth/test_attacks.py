"""Forged, altered and misused tokens over HTTP: every one is a 401 envelope with a Bearer challenge."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.bff.auth.conftest import assert_envelope, claims_of


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(obj: dict) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def _header_of(token: str) -> dict:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@pytest.fixture
def legit(citizen):
    _, login = citizen.new_wechat()
    return login


def _signed(service, claims: dict, **header) -> str:
    key = service.signing_keys.active()
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"typ": "at+jwt", "kid": key.kid, **header})


def _forgeries(service, token: str) -> dict[str, str]:
    header, claims = _header_of(token), claims_of(token)
    now = int(time.time())
    head, body, signature = token.split(".")
    public_pem = service.signing_keys.public_key(header["kid"]).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_header = _segment({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]})
    hs_signing_input = f"{hs_header}.{body}".encode()
    foreign_key = ec.generate_private_key(ec.SECP256R1())
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    return {
        "alg_none": f"{_segment({'alg': 'none', 'typ': 'at+jwt', 'kid': header['kid']})}.{body}.",
        "alg_none_keeping_signature": f"{_segment({**header, 'alg': 'none'})}.{body}.{signature}",
        "hs256_signed_with_public_pem": f"{hs_header}.{body}."
        + _b64(hmac.new(public_pem, hs_signing_input, hashlib.sha256).digest()),
        "wrong_aud": _signed(service, {**claims, "aud": "msb-console"}),
        "aud_as_list": _signed(service, {**claims, "aud": [claims["aud"]]}),
        "foreign_iss": _signed(service, {**claims, "iss": "https://evil.example"}),
        "wrong_typ_jwt": _signed(service, claims, typ="JWT"),
        "refresh_typ": _signed(service, claims, typ="rt+jwt"),
        "expired": _signed(service, {**claims, "iat": now - 1200, "nbf": now - 1200, "exp": now - 600}),
        "not_yet_valid": _signed(service, {**claims, "iat": now + 600, "nbf": now + 600, "exp": now + 1200}),
        "too_long_lived": _signed(service, {**claims, "exp": claims["iat"] + 3600}),
        "missing_sid": _signed(service, {k: v for k, v in claims.items() if k != "sid"}),
        "unknown_session": _signed(service, {**claims, "sid": "f" * len(claims["sid"])}),
        "other_subject": _signed(service, {**claims, "sub": "acc_" + "a" * 26}),
        "extra_header_jku": _signed(service, claims, jku="https://evil.example/jwks.json"),
        "tampered_payload": f"{head}.{flipped}.{signature}",
        "tampered_signature": f"{head}.{body}.{signature[:-4]}AAAA",
        "unknown_kid": _signed(service, claims, kid=_b64(hashlib.sha256(b"nobody").digest())),
        "malformed_kid": _signed(service, claims, kid="../../etc/passwd"),
        "foreign_key_same_kid": jwt.encode(claims, foreign_key, algorithm="ES256", headers={"typ": "at+jwt", "kid": header["kid"]}),
        "garbage": "not.a.jwt",
        "huge": "a" * 5000,
    }


FORGERIES = [
    "alg_none", "alg_none_keeping_signature", "hs256_signed_with_public_pem", "wrong_aud", "aud_as_list", "foreign_iss",
    "wrong_typ_jwt", "refresh_typ", "expired", "not_yet_valid", "too_long_lived", "missing_sid", "unknown_session",
    "other_subject", "extra_header_jku", "tampered_payload", "tampered_signature", "unknown_kid", "malformed_kid",
    "foreign_key_same_kid", "garbage", "huge",
]


@pytest.mark.parametrize("kind", FORGERIES)
def test_forged_or_altered_access_tokens_are_refused(citizen, service, legit, kind):
    assert citizen.get("/v1/me", legit["access_token"]).status_code == 200
    token = _forgeries(service, legit["access_token"])[kind]
    response = citizen.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    body = assert_envelope(response, 401)
    assert body["error"] in {"token_invalid", "token_expired"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.headers["Cache-Control"] == "no-store"


def test_expired_token_says_so(citizen, service, legit):
    claims, now = claims_of(legit["access_token"]), int(time.time())
    token = _signed(service, {**claims, "iat": now - 1200, "nbf": now - 1200, "exp": now - 600})
    assert_envelope(citizen.get("/v1/me", token), 401, "token_expired")


def test_a_well_formed_token_we_signed_still_works(citizen, service, legit):
    """Control for the forgeries: re-signing the same claims with our key is accepted."""
    token = _signed(service, claims_of(legit["access_token"]))
    assert citizen.get("/v1/me", token).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer a b"],
)
def test_missing_or_malformed_authorization(citizen, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = citizen.get("/v1/me", headers=headers)
    body = assert_envelope(response, 401)
    assert body["error"] in {"authentication_required", "token_invalid"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_access_token_used_as_refresh_token_and_refresh_as_bearer(citizen, legit):
    assert_envelope(citizen.post("/v1/auth/refresh", {"refresh_token": legit["access_token"]}), 401, "refresh_token_invalid")
    assert_envelope(citizen.get("/v1/me", legit["refresh_token"]), 401, "token_invalid")
    # neither attempt harmed the session
    assert citizen.ok(citizen.post("/v1/auth/refresh", {"refresh_token": legit["refresh_token"]}))


def test_refresh_replay_after_rotation_is_refused(citizen, legit):
    first = citizen.ok(citizen.post("/v1/auth/refresh", {"refresh_token": legit["refresh_token"]}))
    citizen.ok(citizen.post("/v1/auth/refresh", {"refresh_token": first["refresh_token"]}))
    assert_envelope(citizen.post("/v1/auth/refresh", {"refresh_token": legit["refresh_token"]}), 401, "refresh_token_reused")
    made_up = "rt1." + "A" * 43
    assert_envelope(citizen.post("/v1/auth/refresh", {"refresh_token": made_up}), 401, "refresh_token_invalid")
