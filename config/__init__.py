"""Typed settings read from ``MSB_*`` environment variables.

One frozen dataclass holds every knob; ``Settings.from_env()`` is what wsgi.py and the
command-line tools use, ``settings_for_tests()`` what the test harness starts from.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from kernel.env import ConfigError, as_bool as _as_bool, as_number as _as_number  # noqa: F401

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    environment: str = "development"
    redis_url: str = "redis://127.0.0.1:6391/0"
    # The system of record (`make run` starts the project's own server on 6392 with data under var/).
    database_url: str = "postgresql://msb@127.0.0.1:6392/msb"
    # Pool size per process (each gunicorn worker, the push worker): gunicorn threads + a little headroom.
    database_pool_size: int = 8
    data_dir: Path = PROJECT_ROOT / "var"
    # Parent of the versioned search-index builds; ``current`` inside it points at the live one.
    index_dir: Path = PROJECT_ROOT / "var" / "index"
    catalog_scale: float = 1.0
    log_level: str = "INFO"
    # Local stand-ins of WeChat, Alipay, the identity platform, SMS and APP push.
    # Never on in production: ``validate()`` refuses it.
    sandbox_enabled: bool = False
    sandbox_url: str = "http://127.0.0.1:8701"
    upstream_timeout_seconds: float = 3.0
    # Catalogue responses are the same for everyone; clients and CDNs may keep them this long.
    catalog_max_age_seconds: int = 300
    # Anonymous public cache hits answered before Flask from process memory (bff/caching/hot_path.py); 0 = off.
    hot_path_seconds: float = 2.0
    secret_dir: Path = PROJECT_ROOT / "var" / "secrets"
    token_issuer: str = "https://msb.zwfw.nmg.gov.cn"
    # Reverse proxies in front of gunicorn whose X-Forwarded-For we trust (rate limits key on client IP).
    trusted_proxy_hops: int = 0
    # Outside systems. Base URLs left empty resolve to the real services, or to the sandbox when it is on.
    wechat_appid: str = "wx_sandbox_app"
    wechat_secret: str = "wx_sandbox_secret"
    wechat_api_base: str = ""
    alipay_app_id: str = "2021000000000001"
    alipay_gateway_url: str = ""
    alipay_app_private_key_file: Path | None = None
    alipay_public_key_file: Path | None = None
    gov_identity_url: str = ""
    gov_app_key: str = "gov_sandbox_app_key"
    sms_url: str = ""
    sms_app_key: str = "sms_sandbox_app_key"

    _REAL_UPSTREAMS = {
        "wechat": "https://api.weixin.qq.com",
        "alipay": "https://openapi.alipay.com/gateway.do",
        "gov_identity": "https://tyrz.zwfw.nmg.gov.cn",
        "sms": "https://sms.zwfw.nmg.gov.cn",
    }

    _ENV = {
        "MSB_ENV": ("environment", str),
        "MSB_REDIS_URL": ("redis_url", str),
        "MSB_DATABASE_URL": ("database_url", str),
        "MSB_DATABASE_POOL_SIZE": ("database_pool_size", int),
        "MSB_DATA_DIR": ("data_dir", Path),
        "MSB_INDEX_DIR": ("index_dir", Path),
        "MSB_CATALOG_SCALE": ("catalog_scale", float),
        "MSB_LOG_LEVEL": ("log_level", str),
        "MSB_SANDBOX": ("sandbox_enabled", bool),
        "MSB_SANDBOX_URL": ("sandbox_url", str),
        "MSB_UPSTREAM_TIMEOUT": ("upstream_timeout_seconds", float),
        "MSB_CATALOG_MAX_AGE": ("catalog_max_age_seconds", int),
        "MSB_HOT_PATH_SECONDS": ("hot_path_seconds", float),
        "MSB_SECRET_DIR": ("secret_dir", Path),
        "MSB_TOKEN_ISSUER": ("token_issuer", str),
        "MSB_TRUSTED_PROXY_HOPS": ("trusted_proxy_hops", int),
        "MSB_WECHAT_APPID": ("wechat_appid", str),
        "MSB_WECHAT_SECRET": ("wechat_secret", str),
        "MSB_WECHAT_API_BASE": ("wechat_api_base", str),
        "MSB_ALIPAY_APP_ID": ("alipay_app_id", str),
        "MSB_ALIPAY_GATEWAY": ("alipay_gateway_url", str),
        "MSB_ALIPAY_APP_PRIVATE_KEY_FILE": ("alipay_app_private_key_file", Path),
        "MSB_ALIPAY_PUBLIC_KEY_FILE": ("alipay_public_key_file", Path),
        "MSB_GOV_IDENTITY_URL": ("gov_identity_url", str),
        "MSB_GOV_APP_KEY": ("gov_app_key", str),
        "MSB_SMS_URL": ("sms_url", str),
        "MSB_SMS_APP_KEY": ("sms_app_key", str),
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for variable, (attribute, kind) in cls._ENV.items():
            if variable not in environ:
                continue
            raw = environ[variable]
            if kind is bool:
                values[attribute] = _as_bool(variable, raw)
            elif kind in (int, float):
                values[attribute] = _as_number(variable, raw, kind)
            else:
                values[attribute] = kind(raw)
        if "MSB_DATA_DIR" in environ:
            data_dir = Path(environ["MSB_DATA_DIR"])
            values.setdefault("index_dir", data_dir / "index")
            values.setdefault("secret_dir", data_dir / "secrets")
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"MSB_LOG_LEVEL must be DEBUG/INFO/WARNING/ERROR, got {self.log_level!r}")
        if self.environment == "production" and self.sandbox_enabled:
            raise ConfigError("MSB_SANDBOX must be off in production: the stand-ins are for development and tests")
        if not 0 < self.catalog_scale <= 1.0:
            raise ConfigError(f"MSB_CATALOG_SCALE must be in (0, 1], got {self.catalog_scale}")
        if self.hot_path_seconds < 0:
            raise ConfigError("MSB_HOT_PATH_SECONDS must be 0 (off) or positive")
        if self.database_pool_size < 1:
            raise ConfigError("MSB_DATABASE_POOL_SIZE must be at least 1")
        if self.upstream_timeout_seconds <= 0:
            raise ConfigError("MSB_UPSTREAM_TIMEOUT must be positive")

    def upstream_url(self, system: str) -> str:
        """Base URL of an outside system: explicit setting, else the sandbox when on, else the real one."""
        explicit = {
            "wechat": self.wechat_api_base,
            "alipay": self.alipay_gateway_url,
            "gov_identity": self.gov_identity_url,
            "sms": self.sms_url,
        }[system]
        if explicit:
            return explicit.rstrip("/")
        if self.sandbox_enabled:
            base = self.sandbox_url.rstrip("/")
            return f"{base}/gateway.do" if system == "alipay" else base
        return self._REAL_UPSTREAMS[system]

    @property
    def alipay_keys(self) -> tuple[Path, Path]:
        """(our app private key, Alipay's public key): files under the secret dir unless set."""
        return (
            self.alipay_app_private_key_file or self.secret_dir / "alipay_app_private.pem",
            self.alipay_public_key_file or self.secret_dir / "alipay_platform_public.pem",
        )

    @property
    def testing(self) -> bool:
        return self.environment == "test"

    def with_changes(self, **changes: object) -> "Settings":
        changed = replace(self, **changes)
        changed.validate()
        return changed


def settings_for_tests(**changes: object) -> Settings:
    """Settings for the test harness: small catalogue, sandbox on, verbose logs."""
    # The hot path is off by default in tests: cache tests drive the response cache's own clock,
    # which a real-time in-memory layer in front would shadow (tests/bff/test_hot_path.py turns it on).
    base = Settings(environment="test", catalog_scale=0.02, sandbox_enabled=True, log_level="INFO",
                    hot_path_seconds=0.0)
    return base.with_changes(**changes) if changes else base
