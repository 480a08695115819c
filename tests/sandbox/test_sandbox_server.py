"""The sandbox as a real server process, run the way `make run` runs it
(gunicorn, 1 worker, 8 threads), configured from env vars and driven over
HTTP with requests, as the BFF will use it."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tools.processes import start_gunicorn, stop, wait_until_ready
from tools.redis_server import free_port

APPID, SECRET, ALIPAY_APP_ID = "wx_env_app", "wx_env_secret", "2021000000004242"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, app_private_key: rsa.RSAPrivateKey) -> Iterator[str]:
    key_file = tmp_path_factory.mktemp("keys") / "app_public.pem"
    key_file.write_bytes(
        app_private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    port = free_port()
    env = {
        "MSB_SANDBOX_WECHAT_APPID": APPID,
        "MSB_SANDBOX_WECHAT_SECRET": SECRET,
        "MSB_SANDBOX_ALIPAY_APP_ID": ALIPAY_APP_ID,
        "MSB_SANDBOX_ALIPAY_APP_PUBLIC_KEY": "",  # empty: the _FILE variant applies
        "MSB_SANDBOX_ALIPAY_APP_PUBLIC_KEY_FILE": str(key_file),
        "MSB_SANDBOX_SMS_APP_KEY": "",  # empty: the dev default applies
        "MSB_ENV": "development",
    }
    log_path = key_file.parent / "sandbox.log"
    process = start_gunicorn("sandbox.wsgi:app", port=port, env=env, workers=1, threads=8, log_path=log_path)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base_url}/_drive/health", timeout=15, process=process)
        yield base_url
    finally:
        stop(process)

def test_end_to_end_over_http(server: str, app_private_key: rsa.RSAPrivateKey) -> None:
    session = requests.Session()

    # WeChat login, as the BFF would do it.
    user = session.post(f"{server}/_drive/wechat/users", json={"phone": "13912345678"}, timeout=5).json()
    code = session.post(f"{server}/_drive/wechat/login-code", json={"user_id": user["user_id"]}, timeout=5).json()["code"]
    params = {"appid": APPID, "secret": SECRET, "js_code": code, "grant_type": "authorization_code"}
    login = session.get(f"{server}/sns/jscode2session", params=params, timeout=5).json()
    assert login["openid"] == user["openids"][APPID]

    # Concurrent stable_token calls through the threaded server: one token minted.
    body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = set(pool.map(lambda _: requests.post(f"{server}/cgi-bin/stable_token", json=body, timeout=5).json()["access_token"], range(16)))
    assert len(tokens) == 1
    counters = session.get(f"{server}/_drive/counters", timeout=5).json()["counters"]
    assert counters["wechat.stable_token"] == 16 and counters["wechat.access_tokens_issued"] == 1

    # Alipay: signed request (common params in the query, business in the form).
    alipay_user = session.post(f"{server}/_drive/alipay/users", json={}, timeout=5).json()
    auth_code = session.post(f"{server}/_drive/alipay/auth-code", json={"user_id": alipay_user["user_id"]}, timeout=5).json()["auth_code"]
    common = {
        "app_id": ALIPAY_APP_ID,
        "method": "alipay.system.oauth.token",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": "2024-05-01 10:00:00",
        "version": "1.0",
    }
    business = {"grant_type": "authorization_code", "code": auth_code}
    content = "&".join(f"{k}={v}" for k, v in sorted({**common, **business}.items()))
    common["sign"] = base64.b64encode(app_private_key.sign(content.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    response = session.post(f"{server}/gateway.do", params=common, data=business, timeout=5)
    text = response.content.decode("utf-8")
    node_name = "alipay_system_oauth_token_response"
    raw = text[text.index(f'"{node_name}":') + len(node_name) + 3 : text.rindex(',"sign":"')]
    public_pem = session.get(f"{server}/_drive/alipay/public-key", timeout=5).json()["public_key_pem"]
    serialization.load_pem_public_key(public_pem.encode()).verify(
        base64.b64decode(json.loads(text)["sign"]), raw.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
    )
    assert json.loads(raw)["open_id"] == alipay_user["open_ids"][ALIPAY_APP_ID]

    # SMS with the default dev app key, read back from the outbox.
    sent = session.post(
        f"{server}/sms/send",
        json={"phone": "13912345678", "template": "SMS_LOGIN_CODE", "params": {"code": "654321"}},
        headers={"X-App-Key": "sms_sandbox_app_key"},
        timeout=5,
    ).json()
    assert sent["code"] == "OK"
    outbox = session.get(f"{server}/_drive/sms/outbox", params={"phone": "13912345678"}, timeout=5).json()["messages"]
    assert outbox[-1]["params"]["code"] == "654321"
