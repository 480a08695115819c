"""build_gateways wiring from config.Settings."""
from __future__ import annotations

from pathlib import Path

import pytest

from auth.upstream.factory import build_gateways
from config import ConfigError, Settings
from tests.auth.upstream.conftest import Drive


def test_clients_built_from_settings_reach_the_sandbox(upstream_settings: Settings, redis_client, drive: Drive) -> None:
    gateways = build_gateways(upstream_settings, redis_client)
    user = drive.wechat_user(phone="13800471001")

    assert gateways.wechat.phone_number(drive.wechat_phone_code(user["user_id"])) == "13800471001"
    # The WeChat client and the exposed holder are one and the same token source.
    assert gateways.wechat_token_holder.get()
    assert drive.counters()["wechat.stable_token"] == 1


def test_missing_alipay_key_file_fails_at_startup(upstream_settings: Settings, redis_client, tmp_path: Path) -> None:
    settings = upstream_settings.with_changes(alipay_app_private_key_file=tmp_path / "nope.pem")
    with pytest.raises(ConfigError, match="Alipay app private key"):
        build_gateways(settings, redis_client)
