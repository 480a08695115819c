"""Push settings: the knobs of ``push/`` on top of ``config.Settings``, from ``MSB_PUSH_*`` variables.

``config.Settings`` stays the one place for shared settings (Redis, sandbox, WeChat appid/secret,
Alipay keys, timeouts); what only push needs lives here so the shared module does not grow a knob
per feature.

| variable | default | meaning |
| --- | --- | --- |
| `MSB_PUSH_APP_URL` | sandbox URL when `MSB_SANDBOX=1`, else `https://push.zwfw.nmg.gov.cn` | APP push gateway base URL |
| `MSB_PUSH_APP_KEY` | `push_sandbox_app_key` | `X-App-Key` for the APP push gateway |
| `MSB_PUSH_WECHAT_TOKEN` | `msb_sandbox_push_token` | Token of the WeChat message-push URL (signature) |
| `MSB_PUSH_WECHAT_AES_KEY` | empty | EncodingAESKey (43 chars) for safe mode; empty = plain mode only |
| `MSB_PUSH_TEMPLATES_FILE` | built-in (the sandbox's templates) | JSON of WeChat/Alipay templates |
| `MSB_PUSH_QUIET_HOURS` | `22:00-08:00` | Beijing time; push channels deferred to the end |
| `MSB_PUSH_DAILY_CAP` | `2` | marketing+policy messages per citizen per push channel per Beijing day |
| `MSB_PUSH_RATE_<CH>` | wechat 2000, alipay 500, app 1000, inbox 0 (= no limit) | messages per second per channel |
| `MSB_PUSH_QUOTA_<CH>` | wechat 10000000, alipay 5000000, app 0, inbox 0 (= none) | messages per Beijing day |
| `MSB_PUSH_MAX_ATTEMPTS` | `5` | sends per message before the dead-letter stream |
| `MSB_PUSH_BACKOFF` | `5` | first retry delay (s), doubled per attempt, capped at 600 s |
| `MSB_PUSH_PAUSE_ERROR_RATE` | `0.5` | auto-pause a campaign above this error rate … |
| `MSB_PUSH_PAUSE_MIN_ATTEMPTS` | `20` | … once it has made this many send attempts |
| `MSB_PUSH_ORPHAN_SECONDS` | `60` | a send claimed this long ago by a dead worker is settled as `unknown` |
| `MSB_PUSH_CLAIM_IDLE_SECONDS` | `30` | stream entries idle this long are claimed from dead consumers |
| `MSB_PUSH_THREADS` | `4` | dispatcher threads per worker process |
| `MSB_PUSH_CONCURRENCY` | `8` | parallel sends per dispatcher thread |
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from config import ConfigError, Settings

CHANNELS = ("wechat", "alipay", "app", "inbox")
PUSH_CHANNELS = ("wechat", "alipay", "app")  # interrupt the user: quiet hours and daily caps apply
CONSENT_CHANNELS = ("wechat", "alipay")  # need a per-template subscription
REAL_APP_PUSH_URL = "https://push.zwfw.nmg.gov.cn"


@dataclass(frozen=True)
class PushSettings:
    app_push_url: str = ""
    app_push_key: str = "push_sandbox_app_key"
    wechat_push_token: str = "msb_sandbox_push_token"
    wechat_aes_key: str = ""
    templates_file: Path | None = None
    quiet_start: str = "22:00"
    quiet_end: str = "08:00"
    daily_cap: int = 2
    rates: Mapping[str, float] = field(default_factory=lambda: {"wechat": 2000.0, "alipay": 500.0, "app": 1000.0, "inbox": 0.0})
    quotas: Mapping[str, int] = field(default_factory=lambda: {"wechat": 10_000_000, "alipay": 5_000_000, "app": 0, "inbox": 0})
    max_attempts: int = 5
    backoff_seconds: float = 5.0
    backoff_cap_seconds: float = 600.0
    pause_error_rate: float = 0.5
    pause_min_attempts: int = 20
    orphan_seconds: float = 60.0
    claim_idle_seconds: float = 30.0
    threads: int = 4
    concurrency: int = 8
    event_window_seconds: int = 300  # WeChat pushed events: timestamp must be this fresh

    @classmethod
    def from_env(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> "PushSettings":
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}

        def number(name: str, kind: type) -> object | None:
            raw = env.get(name)
            if raw is None or raw == "":
                return None
            try:
                return kind(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a {kind.__name__}, got {raw!r}") from None

        for attr, name, kind in (
            ("daily_cap", "MSB_PUSH_DAILY_CAP", int), ("max_attempts", "MSB_PUSH_MAX_ATTEMPTS", int),
            ("backoff_seconds", "MSB_PUSH_BACKOFF", float), ("pause_error_rate", "MSB_PUSH_PAUSE_ERROR_RATE", float),
            ("pause_min_attempts", "MSB_PUSH_PAUSE_MIN_ATTEMPTS", int), ("orphan_seconds", "MSB_PUSH_ORPHAN_SECONDS", float),
            ("claim_idle_seconds", "MSB_PUSH_CLAIM_IDLE_SECONDS", float), ("threads", "MSB_PUSH_THREADS", int),
            ("concurrency", "MSB_PUSH_CONCURRENCY", int),
        ):
            value = number(name, kind)
            if value is not None:
                values[attr] = value
        rates = dict(cls().rates)
        quotas = dict(cls().quotas)
        for channel in CHANNELS:
            rate = number(f"MSB_PUSH_RATE_{channel.upper()}", float)
            if rate is not None:
                rates[channel] = rate
            quota = number(f"MSB_PUSH_QUOTA_{channel.upper()}", int)
            if quota is not None:
                quotas[channel] = quota
        values["rates"], values["quotas"] = rates, quotas
        if env.get("MSB_PUSH_QUIET_HOURS"):
            try:
                start, end = env["MSB_PUSH_QUIET_HOURS"].split("-")
            except ValueError:
                raise ConfigError("MSB_PUSH_QUIET_HOURS must look like 22:00-08:00") from None
            values["quiet_start"], values["quiet_end"] = start.strip(), end.strip()
        for attr, name in (("app_push_key", "MSB_PUSH_APP_KEY"), ("wechat_push_token", "MSB_PUSH_WECHAT_TOKEN"),
                           ("wechat_aes_key", "MSB_PUSH_WECHAT_AES_KEY")):
            if env.get(name) is not None:
                values[attr] = env[name]
        if env.get("MSB_PUSH_TEMPLATES_FILE"):
            values["templates_file"] = Path(env["MSB_PUSH_TEMPLATES_FILE"])
        app_url = env.get("MSB_PUSH_APP_URL") or (
            settings.sandbox_url.rstrip("/") if settings.sandbox_enabled else REAL_APP_PUSH_URL)
        values["app_push_url"] = app_url.rstrip("/")
        result = cls(**values)  # type: ignore[arg-type]
        result.validate()
        return result

    def validate(self) -> None:
        from kernel.clock import parse_hhmm

        try:
            parse_hhmm(self.quiet_start), parse_hhmm(self.quiet_end)
        except ValueError:
            raise ConfigError("quiet hours must be HH:MM") from None
        if self.daily_cap < 1:
            raise ConfigError("MSB_PUSH_DAILY_CAP must be at least 1")
        if self.max_attempts < 1 or self.threads < 1 or self.concurrency < 1:
            raise ConfigError("MSB_PUSH_MAX_ATTEMPTS, _THREADS and _CONCURRENCY must be at least 1")
        if not 0 < self.pause_error_rate <= 1:
            raise ConfigError("MSB_PUSH_PAUSE_ERROR_RATE must be in (0, 1]")
        if self.wechat_aes_key and len(self.wechat_aes_key) != 43:
            raise ConfigError("MSB_PUSH_WECHAT_AES_KEY must be the 43-character EncodingAESKey")

    def with_changes(self, **changes: object) -> "PushSettings":
        changed = replace(self, **changes)  # type: ignore[arg-type]
        changed.validate()
        return changed
