"""Build the upstream clients that can be built from ``config.Settings``: one pooled HTTP session per
system, the Alipay keys read once, one WeChat token holder shared by everything that needs the token.

A gateway whose configuration is missing (the Alipay key files) is ``None`` and logged: the process still
starts, Alipay logins answer 503 ``upstream_unavailable`` and the push worker leaves the channel out."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import redis

from config import ConfigError, Settings
from integrations.alipay import AlipayClient
from integrations.gov_identity import GovIdentityClient
from integrations.http import UpstreamHttp, pooled_session
from integrations.sms import SmsClient
from integrations.wechat import WeChatClient
from integrations.wechat_token import StableTokenSource, WeChatAccessTokenHolder
from kernel.clock import Clock

log = logging.getLogger("msb.integrations")


@dataclass(frozen=True)
class Gateways:
    wechat: WeChatClient
    alipay: AlipayClient | None
    identity: GovIdentityClient
    sms: SmsClient
    # Exposed for the push code (subscribeMessage.send needs the same token).
    wechat_token_holder: WeChatAccessTokenHolder


def build_gateways(settings: Settings, redis_client: redis.Redis, *, clock: Clock | None = None) -> Gateways:
    timeout = settings.upstream_timeout_seconds
    wechat_url = settings.upstream_url("wechat")
    # The token endpoint and the API calls share one host, so they share one connection pool.
    wechat_session = pooled_session()
    token_source = StableTokenSource(
        wechat_url, settings.wechat_appid, settings.wechat_secret,
        UpstreamHttp("wechat", session=wechat_session, timeout=timeout),
    )
    holder = WeChatAccessTokenHolder(redis_client, settings.wechat_appid, token_source, clock=clock, fetch_timeout=timeout)
    return Gateways(
        wechat=WeChatClient(wechat_url, settings.wechat_appid, settings.wechat_secret, holder, session=wechat_session, timeout=timeout),
        alipay=_alipay_or_none(settings, timeout, clock),
        identity=GovIdentityClient(settings.upstream_url("gov_identity"), settings.gov_app_key, session=pooled_session(), timeout=timeout),
        sms=SmsClient(settings.upstream_url("sms"), settings.sms_app_key, session=pooled_session(), timeout=timeout),
        wechat_token_holder=holder,
    )


def _alipay_or_none(settings: Settings, timeout: float, clock: Clock | None) -> AlipayClient | None:
    app_private_key_path, alipay_public_key_path = settings.alipay_keys
    try:
        return AlipayClient(
            settings.upstream_url("alipay"),
            settings.alipay_app_id,
            _read_key(app_private_key_path, "Alipay app private key"),
            _read_key(alipay_public_key_path, "Alipay platform public key"),
            session=pooled_session(),
            timeout=timeout,
            clock=clock,
        )
    except ConfigError as exc:
        log.error("alipay gateway not configured", extra={"fields": {"reason": str(exc)}})
        return None


def _read_key(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what} not readable at {path} ({exc.strerror}); see tools/dev_keys.py for development keys") from None
