"""The HTTP layer: ``create_app(settings)`` builds the BFF for gunicorn, the CLI and the tests."""
from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from bff import docs, http_cache, metrics, request_log
from bff.errors import register_error_handlers
from bff.extensions import api, catalogue_holder, redis_store, response_cache
from bff.hot_path import HotPath
from config import Settings

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
        # Validators are added by bff.http_cache for every GET, with weak comparison.
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
    # The operator console: plain Flask pages and assets, not part of the OpenAPI spec.
    from bff.console import bp as console_bp

    app.register_blueprint(console_bp)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    request_log.configure_logging(settings.log_level)

    app = Flask(__name__)
    if settings.trusted_proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops, x_proto=settings.trusted_proxy_hops)
    if settings.hot_path_seconds:
        HotPath(settings.hot_path_seconds).install(app, version=lambda: catalogue_holder.get().version)
    app.config.update(_api_config(settings))
    app.config["SETTINGS"] = settings
    app.config["TESTING"] = settings.testing
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from bff.auth import auth_service
    from bff.home.sources import PushSources, home_sources
    from bff.push import push_service

    redis_store.init_app(app, settings.redis_url)
    catalogue_holder.init_app(app, settings.index_dir)
    response_cache.init_app(app, settings.redis_url)
    api.init_app(app)
    auth_service.init_app(app, settings, redis_store.client)
    push_service.init_app(app, settings, redis_store.client)
    # Push keeps its own copy of each citizen's targeting facts: identity tells it what changed.
    auth_service.add_account_listener(app, lambda account_id: push_service.get(app).sync_citizen(account_id))
    # Security notices (merges, new login methods, real-name changes, recovery) reach the inbox
    # through push's public facade; auth sends the SMS itself.
    auth_service.add_notice_listener(
        app, lambda account_id, notice: push_service.get(app).deliver_account_notice(account_id, **notice.to_dict())
    )
    # Home's recommendations, policy notices and unread count come from push.
    home_sources.init_app(app, PushSources(push_service.proxy(app)))
    register_blueprints(app)
    app.register_blueprint(docs.bp)
    metrics.init_app(app, queue_depths=lambda: push_service.get(app).queue_depths())
    register_error_handlers(app)
    request_log.init_app(app)
    http_cache.init_app(app)
    return app
