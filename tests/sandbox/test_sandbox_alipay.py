"""Alipay gateway stand-in. Requests are signed here independently of
sandbox/rsa2.py, following the notes: all params but `sign` (sign_type
included), empty values dropped, ASCII-sorted raw k=v joined by &, SHA256withRSA."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask.testing import FlaskClient

RESPONSE_NODE = "alipay_system_oauth_token_response"


def sign_params(params: dict[str, str], key: rsa.RSAPrivateKey) -> str:
    content = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
    return base64.b64encode(key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode()


def oauth_token(
    client: FlaskClient, key: rsa.RSAPrivateKey, app: str, business: dict[str, str], **common_overrides: str | None
) -> str:
    """Posts like the official SDK: common params in the query, business
    params in the form body, one signature over both. Returns raw body text."""
    common = {
        "app_id": app,
        "method": "alipay.system.oauth.token",
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": "2023-11-15 06:13:20",
        "version": "1.0",
    }
    common.update(common_overrides)
    common = {k: v for k, v in common.items() if v is not None}
    if "sign" not in common:
        common["sign"] = sign_params({**common, **business}, key)
    response = client.post("/gateway.do", query_string=common, data=business)
    assert response.status_code == 200  # gateway errors come with HTTP 200
    return response.get_data(as_text=True)


def verified_node(body: str, public_key_pem: str) -> tuple[str, dict[str, Any]]:
    """Cut the raw response node out of the body text and verify the sandbox's
    signature over exactly those bytes, as the BFF must."""
    parsed = json.loads(body)
    node_name = next(k for k in parsed if k != "sign")
    start = body.index(f'"{node_name}":') + len(node_name) + 3
    end = body.rindex(',"sign":"')
    raw = body[start:end]
    public_key = serialization.load_pem_public_key(public_key_pem.encode())
    public_key.verify(base64.b64decode(parsed["sign"]), raw.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return node_name, json.loads(raw)


@pytest.fixture
def sandbox_public_pem(client: FlaskClient) -> str:
    return client.get("/_drive/alipay/public-key").json["public_key_pem"]


def new_user(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    return client.post("/_drive/alipay/users", json=fields).json


def auth_code(client: FlaskClient, user: dict[str, Any], **fields: Any) -> str:
    return client.post("/_drive/alipay/auth-code", json={"user_id": user["user_id"], **fields}).json["auth_code"]


def test_oauth_token_happy_path_open_id_mode(client, known: SimpleNamespace, app_private_key, sandbox_public_pem) -> None:
    user = new_user(client)
    body = oauth_token(client, app_private_key, known.alipay_app_id, {"grant_type": "authorization_code", "code": auth_code(client, user)})
    node_name, node = verified_node(body, sandbox_public_pem)
    assert node_name == RESPONSE_NODE
    assert node["open_id"] == user["open_ids"][known.alipay_app_id]
    assert "user_id" not in node and "union_id" not in node
    assert node["access_token"] and node["refresh_token"]
    assert node["expires_in"] > 0 and node["re_expires_in"] > node["expires_in"]
    assert node["auth_start"] == "2023-11-15 06:13:20"


def test_userid_mode_and_union_id(client, known: SimpleNamespace, app_private_key, sandbox_public_pem) -> None:
    client.put(f"/_drive/alipay/apps/{known.alipay_app_id}", json={"userid_mode": True, "union_id": True})
    user = new_user(client, union_id=True)
    body = oauth_token(client, app_private_key, known.alipay_app_id, {"grant_type": "authorization_code", "code": auth_code(client, user)})
    _, node = verified_node(body, sandbox_public_pem)
    assert node["user_id"] == user["user_id"] and node["user_id"].startswith("2088") and len(node["user_id"]) == 16
    assert "open_id" not in node
    assert node["union_id"] == user["union_id"]


def test_auth_code_single_use_and_expiry(client, known: SimpleNamespace, app_private_key, sandbox_public_pem, clock) -> None:
    user = new_user(client)
    code = auth_code(client, user)
    business = {"grant_type": "authorization_code", "code": code}
    oauth_token(client, app_private_key, known.alipay_app_id, business)
    node_name, node = verified_node(oauth_token(client, app_private_key, known.alipay_app_id, business), sandbox_public_pem)
    assert node_name == "error_response"
    assert node == {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.code-invalid", "sub_msg": "授权码code无效"}

    short = auth_code(client, user, ttl_seconds=180)
    clock.now += 180
    _, node = verified_node(
        oauth_token(client, app_private_key, known.alipay_app_id, {"grant_type": "authorization_code", "code": short}), sandbox_public_pem
    )
    assert node["sub_code"] == "isv.code-invalid"


def test_bad_signature_is_rejected_without_burning_the_code(client, known: SimpleNamespace, app_private_key, sandbox_public_pem) -> None:
    user = new_user(client)
    code = auth_code(client, user)
    business = {"grant_type": "authorization_code", "code": code}
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # small: speed only
    _, node = verified_node(oauth_token(client, other_key, known.alipay_app_id, business), sandbox_public_pem)
    assert (node["code"], node["sub_code"]) == ("40002", "isv.invalid-signature")
    assert "grant_type=authorization_code" in node["sub_msg"]  # echoes the string it verified

    # Signing without sign_type (a classic mistake) also fails verification.
    params = {"app_id": known.alipay_app_id, "method": "alipay.system.oauth.token", "charset": "utf-8", "timestamp": "2023-11-15 06:13:20", "version": "1.0", **business}
    wrong_sign = sign_params(params, app_private_key)
    _, node = verified_node(oauth_token(client, app_private_key, known.alipay_app_id, business, sign=wrong_sign), sandbox_public_pem)
    assert node["sub_code"] == "isv.invalid-signature"

    _, node = verified_node(oauth_token(client, app_private_key, known.alipay_app_id, business), sandbox_public_pem)
    assert "open_id" in node


@pytest.mark.parametrize(
    ("overrides", "code", "sub_code"),
    [
        ({"sign_type": None}, "40001", "isv.missing-signature-type"),
        ({"timestamp": None}, "40001", "isv.missing-timestamp"),
        ({"sign_type": "RSA"}, "40002", "isv.invalid-signature-type"),
        ({"charset": "GBK"}, "40002", "isv.invalid-charset"),
        ({"timestamp": "2023/11/15"}, "40002", "isv.invalid-timestamp"),
        ({"app_id": "2021000000000000"}, "40002", "isv.invalid-app-id"),
        ({"method": "alipay.user.info.share"}, "40002", "isv.invalid-method"),
    ],
)
def test_gateway_common_param_errors(client, known, app_private_key, sandbox_public_pem, overrides, code, sub_code) -> None:
    body = oauth_token(client, app_private_key, known.alipay_app_id, {"grant_type": "authorization_code", "code": "x"}, **overrides)
    node_name, node = verified_node(body, sandbox_public_pem)
    assert node_name == "error_response"
    assert (node["code"], node["sub_code"]) == (code, sub_code)


def test_grant_type_invalid(client, known, app_private_key, sandbox_public_pem) -> None:
    _, node = verified_node(oauth_token(client, app_private_key, known.alipay_app_id, {"grant_type": "password"}), sandbox_public_pem)
    assert node["sub_code"] == "isv.grant-type-invalid"


def test_refresh_token_rotation(client, known, app_private_key, sandbox_public_pem) -> None:
    user = new_user(client)
    _, first = verified_node(
        oauth_token(client, app_private_key, known.alipay_app_id, {"grant_type": "authorization_code", "code": auth_code(client, user)}),
        sandbox_public_pem,
    )
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    _, second = verified_node(oauth_token(client, app_private_key, known.alipay_app_id, refresh), sandbox_public_pem)
    assert second["open_id"] == first["open_id"] and second["refresh_token"] != first["refresh_token"]
    _, again = verified_node(oauth_token(client, app_private_key, known.alipay_app_id, refresh), sandbox_public_pem)
    assert again["sub_code"] == "isv.refreshed-token-invalid"


def test_app_registration_accepts_bare_base64_key(client, app_private_key, sandbox_public_pem) -> None:
    der = app_private_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    response = client.put("/_drive/alipay/apps/2021000000000777", json={"public_key": base64.b64encode(der).decode()})
    assert response.json["has_public_key"] is True
    user = new_user(client)
    code = auth_code(client, user, app_id="2021000000000777")
    _, node = verified_node(
        oauth_token(client, app_private_key, "2021000000000777", {"grant_type": "authorization_code", "code": code}), sandbox_public_pem
    )
    assert node["open_id"] == user["open_ids"]["2021000000000777"]
    assert client.put("/_drive/alipay/apps/x", json={"public_key": "not a key"}).status_code == 400


def test_code_for_another_app_is_invalid(client, known, app_private_key, sandbox_public_pem) -> None:
    client.put("/_drive/alipay/apps/2021000000000888", json={})
    user = new_user(client)
    code = auth_code(client, user, app_id="2021000000000888")
    _, node = verified_node(
        oauth_token(client, app_private_key, known.alipay_app_id, {"grant_type": "authorization_code", "code": code}), sandbox_public_pem
    )
    assert node["sub_code"] == "isv.code-invalid"


def test_public_key_endpoint_gives_pem_and_bare_forms(client) -> None:
    body = client.get("/_drive/alipay/public-key").json
    assert body["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "".join(body["public_key_pem"].splitlines()[1:-1]) == body["public_key"]
