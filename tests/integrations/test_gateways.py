"""build_gateways wiring from config.Settings."""
from __future__ import annotations

from pathlib import Path

from config import Settings
from integrations.gateways import build_gateways
from tests.integrations.conftest import Drive


def test_clients_built_from_settings_reach_the_sandbox(upstream_settings: Settings, redis_client, drive: Drive) -> None:
    gateways = build_gateways(upstream_settings, redis_client)
    user = drive.wechat_user(phone="13800471001")

    assert gateways.wechat.phone_number(drive.wechat_phone_code(user["user_id"])) == "13800471001"
    # The WeChat client and the exposed holder are one and the same token source.
    assert gateways.wechat_token_holder.get()
    assert drive.counters()["wechat.stable_token"] == 1


def test_missing_alipay_key_file_leaves_only_alipay_out(upstream_settings: Settings, redis_client, tmp_path: Path,
                                                         caplog) -> None:
    settings = upstream_settings.with_changes(alipay_app_private_key_file=tmp_path / "nope.pem")

    gateways = build_gateways(settings, redis_client)

    assert gateways.alipay is None
    assert gateways.wechat is not None and gateways.identity is not None and gateways.sms is not None
    assert any("alipay gateway not configured" in r.message and "Alipay app private key" in r.fields["reason"]
               for r in caplog.records if hasattr(r, "fields"))
