"""AlipayClient: RSA2 both ways against the live sandbox, and response verification against a tiny
local gateway that serves whatever (mis)signed body a test wants."""
from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from integrations.alipay import AlipayApiError, AlipayClient, sign_content, top_level_members
from integrations.errors import CodeInvalid, UpstreamUnavailable
from integrations.gateways import Gateways
from tests.integrations.conftest import Drive

APP_ID = "2021000000000001"
NODE = "alipay_system_oauth_token_response"


def client_for(url: str, secrets: Path, *, platform_key: str = "alipay_platform_public.pem") -> AlipayClient:
    return AlipayClient(
        url, APP_ID, (secrets / "alipay_app_private.pem").read_bytes(), (secrets / platform_key).read_bytes(), timeout=2
    )


def test_exchange_returns_open_id(gateways: Gateways, drive: Drive) -> None:
    user = drive.alipay_user()

    identity = gateways.alipay.exchange_auth_code(drive.alipay_auth_code(user["user_id"]))

    assert identity.open_id == user["open_ids"][APP_ID]
    assert identity.user_id is None  # apps on open_id get no user_id


def test_bad_used_and_empty_codes_are_code_invalid(gateways: Gateways, drive: Drive) -> None:
    code = drive.alipay_auth_code(drive.alipay_user()["user_id"])
    gateways.alipay.exchange_auth_code(code)

    for bad in (code, "4b203fe6c11548bcabd8da5bb087a83b", ""):
        with pytest.raises(CodeInvalid):
            gateways.alipay.exchange_auth_code(bad)


def test_wrong_alipay_public_key_rejects_every_response(drive: Drive, dev_secret_dir: Path, caplog) -> None:
    # The classic mistake (fzlee #21/#36/#64): verifying with our own app key instead of Alipay's.
    client = client_for(f"{drive.base_url}/gateway.do", dev_secret_dir, platform_key="alipay_app_public.pem")

    with pytest.raises(UpstreamUnavailable):
        client.exchange_auth_code(drive.alipay_auth_code(drive.alipay_user()["user_id"]))
    assert any(r.levelname == "ERROR" and r.fields.get("upstream_code") == "bad_signature" for r in caplog.records)


def test_gateway_refusing_our_signature_is_a_config_problem(drive: Drive, dev_secret_dir: Path) -> None:
    # Sign with the wrong private key: the gateway answers isv.invalid-signature.
    client = AlipayClient(
        f"{drive.base_url}/gateway.do", APP_ID,
        (dev_secret_dir / "alipay_platform_private.pem").read_bytes(),
        (dev_secret_dir / "alipay_platform_public.pem").read_bytes(), timeout=2,
    )
    with pytest.raises(UpstreamUnavailable):
        client.exchange_auth_code(drive.alipay_auth_code(drive.alipay_user()["user_id"]))


def test_userid_mode_app_is_a_config_problem(gateways: Gateways, drive: Drive) -> None:
    drive.call("PUT", f"/alipay/apps/{APP_ID}", {"userid_mode": True})

    with pytest.raises(UpstreamUnavailable):
        gateways.alipay.exchange_auth_code(drive.alipay_auth_code(drive.alipay_user()["user_id"]))


def test_alipay_system_error_is_unavailable(gateways: Gateways, drive: Drive) -> None:
    drive.fault("alipay.system.oauth.token")  # default: 20000 isp.unknow-error, signed

    with pytest.raises(UpstreamUnavailable):
        gateways.alipay.exchange_auth_code("any")


def test_other_business_errors_reach_call_callers(gateways: Gateways, drive: Drive) -> None:
    drive.fault("alipay.system.oauth.token", error={"code": "40004", "sub_code": "isv.some-business-rule"})

    with pytest.raises(AlipayApiError) as raised:
        gateways.alipay.call("alipay.system.oauth.token", form={"grant_type": "authorization_code", "code": "x"})
    assert (raised.value.code, raised.value.sub_code) == ("40004", "isv.some-business-rule")


def test_sign_content_follows_the_documented_rule() -> None:
    params = {"b": "2", "a": "x y&z", "sign": "ignored", "empty": "", "sign_type": "RSA2"}
    assert sign_content(params) == "a=x y&z&b=2&sign_type=RSA2"


# --- response verification against a local fake gateway ------------------------------------------


class FakeGateway:
    def __init__(self) -> None:
        self.body = b"{}"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Type", "text/html;charset=utf-8")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/gateway.do"


@pytest.fixture
def fake_gateway() -> Iterator[FakeGateway]:
    gateway = FakeGateway()
    thread = threading.Thread(target=gateway.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield gateway
    gateway.server.shutdown()
    gateway.server.server_close()


@pytest.fixture
def platform_sign(dev_secret_dir: Path):
    key = serialization.load_pem_private_key((dev_secret_dir / "alipay_platform_private.pem").read_bytes(), password=None)

    def sign(text: str) -> str:
        return base64.b64encode(key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())).decode()

    return sign


def test_verifies_the_exact_node_text_whatever_the_spacing(fake_gateway: FakeGateway, platform_sign, dev_secret_dir: Path) -> None:
    node = '{ "open_id" : "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5",\n "user_id":"2088102104794936" }'
    fake_gateway.body = f'{{ "{NODE}" :  {node} , "sign" : "{platform_sign(node)}" }}'.encode()

    identity = client_for(fake_gateway.url, dev_secret_dir).exchange_auth_code("code")

    assert identity.open_id == "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"
    assert identity.user_id == "2088102104794936"


def test_tampered_node_is_rejected(fake_gateway: FakeGateway, platform_sign, dev_secret_dir: Path) -> None:
    genuine = '{"open_id":"victim"}'
    fake_gateway.body = f'{{"{NODE}":{{"open_id":"attacker"}},"sign":"{platform_sign(genuine)}"}}'.encode()

    with pytest.raises(UpstreamUnavailable):
        client_for(fake_gateway.url, dev_secret_dir).exchange_auth_code("code")


def test_duplicate_node_cannot_smuggle_unsigned_data(fake_gateway: FakeGateway, platform_sign, dev_secret_dir: Path) -> None:
    genuine = '{"open_id":"victim"}'
    fake_gateway.body = f'{{"{NODE}":{genuine},"{NODE}":{{"open_id":"attacker"}},"sign":"{platform_sign(genuine)}"}}'.encode()

    with pytest.raises(UpstreamUnavailable):
        client_for(fake_gateway.url, dev_secret_dir).exchange_auth_code("code")


def test_unsigned_and_non_json_bodies_are_rejected(fake_gateway: FakeGateway, dev_secret_dir: Path) -> None:
    client = client_for(fake_gateway.url, dev_secret_dir)
    for body in ('{"error_response":{"code":"40002","sub_code":"isv.code-invalid"}}', "<html>busy</html>", "{} trailing"):
        fake_gateway.body = body.encode()
        with pytest.raises(UpstreamUnavailable):
            client.exchange_auth_code("code")


def test_top_level_members_locates_values_exactly() -> None:
    text = '{"a" : {"x":"}"} ,"b":[1,2],"sign":"s"}'
    members = top_level_members(text)
    assert {name: text[start:end] for name, (start, end) in members.items()} == {"a": '{"x":"}"}', "b": "[1,2]", "sign": '"s"'}
