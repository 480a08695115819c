"""The HTTP layer: ``create_app(settings)`` builds the BFF for gunicorn, the CLI and the tests."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from bff import client_context, docs, metrics, request_body, request_log
from bff.caching import conditional
from bff.errors import register_error_handlers
from bff.extensions import SERVICES_KEY, api
from bff.caching.hot_path import HotPath
from config import Settings
from push.campaigns import CAMPAIGN_STATE_CHANGED

if TYPE_CHECKING:
    from bootstrap import Services
    from kernel.clock import Clock
    from push.settings import PushSettings

API_VERSION = "1.0"


def _api_config(settings: Settings) -> dict[str, object]:
    return {
        "API_TITLE": "蒙速办 BFF",
        "API_VERSION": API_VERSION,
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        "OPENAPI_SWAGGER_UI_URL": docs.STATIC_URL,
        "API_SPEC_OPTIONS": {
            "info": {
                "description": "Backend-for-frontend of 蒙速办 (Inner Mongolia government services) "
                "for the APP, the WeChat mini-program and the Alipay mini-program.",
            },
        },
        # Validators are added by bff.caching.conditional for every GET, with weak comparison.
        "ETAG_DISABLED": True,
        "JSON_SORT_KEYS": False,
    }


def register_blueprints(app: Flask) -> None:
    from bff import auth as identity
    from bff.catalog import blp as catalog_blp
    from bff.health import blp as health_blp
    from bff.home import blp as home_blp
    from bff import push

    api.register_blueprint(health_blp)
    api.register_blueprint(catalog_blp)
    api.register_blueprint(home_blp)
    for blueprint in identity.blueprints():
        api.register_blueprint(blueprint)
    for blueprint in push.blueprints():
        api.register_blueprint(blueprint)
    api.declare_common_responses()
    # The operator console: plain Flask pages and assets, not part of the OpenAPI spec.
    from bff.console import bp as console_bp

    app.register_blueprint(console_bp)


def create_app(settings: Settings | None = None, *, services: "Services | None" = None, clock: "Clock | None" = None,
               push_clock: "Clock | None" = None, push_settings: "PushSettings | None" = None) -> Flask:
    """The BFF on the services of ``bootstrap`` (built here unless given; tests pass clocks and settings)."""
    settings = settings or Settings.from_env()
    request_log.configure_logging(settings.log_level)
    # Imported here: the composition root builds bff's response cache, so it imports bff.caching (and so bff).
    from bootstrap import bootstrap

    services = services or bootstrap(settings, clock=clock, push_clock=push_clock, push_settings=push_settings)

    app = Flask(__name__)
    app.extensions[SERVICES_KEY] = services
    if settings.trusted_proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops, x_proto=settings.trusted_proxy_hops)
    if settings.hot_path_seconds:
        hot = HotPath(settings.hot_path_seconds)
        hot.install(app, version=lambda: services.catalogue.get().version)
        # Other workers' hot paths expire within their few seconds; this one forgets changed notices at once.
        services.events.subscribe(CAMPAIGN_STATE_CHANGED, lambda event: hot.clear())
    app.config.update(_api_config(settings))
    app.config["SETTINGS"] = settings
    app.config["TESTING"] = settings.testing

    api.init_app(app)
    from bff.auth.security import register_security_scheme

    register_security_scheme(app)
    register_blueprints(app)
    app.register_blueprint(docs.bp)
    metrics.init_app(app, queue_depths=services.push.queue_depths)
    register_error_handlers(app)
    request_log.init_app(app)
    request_body.init_app(app)
    app.before_request(client_context.check_headers)
    conditional.init_app(app)
    return app
