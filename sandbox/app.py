"""Factory for the sandbox server (its own process and port; the BFF reaches
it over HTTP by base URL, exactly as it reaches the real systems)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response

from sandbox import alipay, app_push, drive, gov_identity, push_alipay, push_wechat, sms, wechat
from sandbox.common import json_response
from sandbox.config import default_config
from sandbox.state import Sandbox


def create_sandbox_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the sandbox app.

    `config` overrides keys of `sandbox.config.default_config()` (which reads
    MSB_SANDBOX_* env vars): `clock` (() -> float seconds), `wechat_apps`
    ({appid: {"secret", "open_platform_bound"}}), `alipay_apps` ({app_id:
    {"public_key_pem", "userid_mode", "union_id"}}), `alipay_private_key_pem`
    (the sandbox's own signing key; generated when absent), `gov_app_keys`,
    `sms_app_keys`, `sms_templates`, `sms_limits`, and the TTLs / quotas
    listed in default_config().
    """
    settings = default_config()
    settings.update(config or {})

    app = Flask("sandbox")
    app.config["SANDBOX"] = settings
    sandbox = Sandbox(settings["clock"])
    app.extensions["sandbox"] = sandbox

    wechat.init_app(app, sandbox)
    alipay.init_app(app, sandbox)
    gov_identity.init_app(app, sandbox)
    sms.init_app(app, sandbox)
    push_wechat.init_app(app, sandbox)
    push_alipay.init_app(app, sandbox)
    app_push.init_app(app, sandbox)
    drive.init_app(app)

    @app.errorhandler(404)
    def _not_found(_: Exception) -> Response:
        return json_response({"error": "not found"}, 404)

    @app.errorhandler(405)
    def _method_not_allowed(_: Exception) -> Response:
        return json_response({"error": "method not allowed"}, 405)

    return app
