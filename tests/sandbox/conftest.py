"""Fixtures for the sandbox's own tests: a real app from the factory with a
controllable clock, known apps, and RSA keys generated once per session."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient

from sandbox import create_sandbox_app

WECHAT_APPID = "wx_test_app"
WECHAT_SECRET = "wx_test_secret"
ALIPAY_APP_ID = "2021000000009999"
GOV_APP_KEY = "gov-test-key"
SMS_APP_KEY = "sms-test-key"
START = 1_700_000_000.0  # 2023-11-15 06:13:20 Beijing time


class FakeClock:
    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="session")
def known() -> SimpleNamespace:
    """The apps and keys every test app is configured with."""
    return SimpleNamespace(
        wechat_appid=WECHAT_APPID,
        wechat_secret=WECHAT_SECRET,
        alipay_app_id=ALIPAY_APP_ID,
        gov_app_key=GOV_APP_KEY,
        sms_app_key=SMS_APP_KEY,
        start=START,
    )


@pytest.fixture(scope="session")
def app_private_key() -> rsa.RSAPrivateKey:
    """The BFF's Alipay app key (the sandbox knows only its public half)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def sandbox_alipay_key_pem() -> str:
    # Passed in so each test's app does not spend time generating a key.
    return _private_pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_app(clock: FakeClock, app_private_key: rsa.RSAPrivateKey, sandbox_alipay_key_pem: str) -> Callable[..., Flask]:
    def build(**overrides: Any) -> Flask:
        config: dict[str, Any] = {
            "clock": clock,
            "wechat_apps": {WECHAT_APPID: {"secret": WECHAT_SECRET, "open_platform_bound": True}},
            "alipay_apps": {ALIPAY_APP_ID: {"public_key_pem": public_pem(app_private_key), "userid_mode": False}},
            "alipay_private_key_pem": sandbox_alipay_key_pem,
            "gov_app_keys": [GOV_APP_KEY, "gov-other-key"],
            "sms_app_keys": [SMS_APP_KEY],
        }
        config.update(overrides)
        app = create_sandbox_app(config)
        app.testing = True
        return app

    return build


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
