"""Sandbox configuration: built-in dev defaults, overridable from MSB_SANDBOX_*
environment variables, then by the dict passed to create_sandbox_app()."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

DEFAULT_WECHAT_APPID = "wx_sandbox_app"
DEFAULT_WECHAT_SECRET = "wx_sandbox_secret"
DEFAULT_ALIPAY_APP_ID = "2021000000000001"
DEFAULT_GOV_APP_KEY = "gov_sandbox_app_key"
DEFAULT_SMS_APP_KEY = "sms_sandbox_app_key"

DEFAULT_SMS_TEMPLATES: dict[str, dict[str, Any]] = {
    "SMS_LOGIN_CODE": {
        "kind": "verification",
        "text": "【蒙速办】您的验证码为${code}，5分钟内有效，请勿泄露给他人。",
    },
    "SMS_BIND_CODE": {
        "kind": "verification",
        "text": "【蒙速办】您正在绑定手机号，验证码${code}，5分钟内有效。",
    },
    "SMS_CLAIM_CODE": {
        "kind": "verification",
        "text": "【蒙速办】有人申请把其他登录方式并入您的蒙速办账号，验证码${code}，5分钟内有效。如不是您本人申请，请勿把验证码告诉任何人。",
    },
    "SMS_SECURITY_NOTICE": {
        "kind": "notification",
        "text": "【蒙速办】您的账号${event}。如不是您本人操作，请拨打12345或在蒙速办“我的-账号安全-这不是我”找回账号。",
    },
    "SMS_SERVICE_NOTICE": {
        "kind": "notification",
        "text": "【蒙速办】您办理的${item}有新进展：${status}。",
    },
}

# Aliyun SMS default flow control (per phone, same signature): verification
# codes 1/min, 5/hour, 10/day (rolling 24 h); notifications 50/day per
# phone and template.
DEFAULT_SMS_LIMITS: dict[str, int] = {
    "verification_per_minute": 1,
    "verification_per_hour": 5,
    "verification_per_day": 10,
    "notification_per_day": 50,
}


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None or value == "" else value.strip().lower() in ("1", "true", "yes")


def _env_pem(name: str) -> str | None:
    """PEM given inline in NAME or as a file path in NAME_FILE."""
    inline = os.environ.get(name)
    if inline:
        return inline.replace("\\n", "\n")
    path = os.environ.get(f"{name}_FILE")
    return Path(path).read_text(encoding="utf-8") if path else None


def default_config() -> dict[str, Any]:
    wechat_appid = _env("MSB_SANDBOX_WECHAT_APPID", DEFAULT_WECHAT_APPID)
    alipay_app_id = _env("MSB_SANDBOX_ALIPAY_APP_ID", DEFAULT_ALIPAY_APP_ID)
    return {
        "clock": time.time,
        "wechat_apps": {
            wechat_appid: {
                "secret": _env("MSB_SANDBOX_WECHAT_SECRET", DEFAULT_WECHAT_SECRET),
                # unionid is only returned when the mini-program is bound to
                # an Open Platform account.
                "open_platform_bound": _env_bool("MSB_SANDBOX_WECHAT_OPEN_PLATFORM_BOUND", True),
            }
        },
        "wechat_code_ttl_seconds": 300,
        "wechat_user_minute_quota": 100,
        # The official doc: force_refresh "会导致上次获取的 access_token 失效".
        # Set > 0 to keep the previous token alive for a grace period instead.
        "wechat_stable_force_refresh_grace_seconds": 0,
        "alipay_apps": {
            alipay_app_id: {
                "public_key_pem": _env_pem("MSB_SANDBOX_ALIPAY_APP_PUBLIC_KEY"),
                "userid_mode": _env_bool("MSB_SANDBOX_ALIPAY_USERID_MODE", False),
            }
        },
        "alipay_private_key_pem": _env_pem("MSB_SANDBOX_ALIPAY_PRIVATE_KEY"),
        "alipay_auth_code_ttl_seconds": 300,
        "gov_app_keys": [_env("MSB_SANDBOX_GOV_APP_KEY", DEFAULT_GOV_APP_KEY)],
        "gov_ticket_ttl_seconds": 300,
        "gov_face_token_ttl_seconds": 600,
        "sms_app_keys": [_env("MSB_SANDBOX_SMS_APP_KEY", DEFAULT_SMS_APP_KEY)],
        "sms_templates": DEFAULT_SMS_TEMPLATES,
        "sms_limits": DEFAULT_SMS_LIMITS,
    }


def refuse_production() -> None:
    """The sandbox hands out codes for anyone: it must never run in production."""
    env = (os.environ.get("MSB_ENV") or "").strip().lower()
    if env in ("prod", "production"):
        raise SystemExit("sandbox refuses to start with MSB_ENV=production")
