"""Kizuna's Flask application factory, `create_app()`.

Layer: web wiring. Reads the configuration once, builds the runtime (database, Redis, cipher) and
registers the blueprints behind `app.request_guards`. Never migrates and never calls a platform:
web boot stays fast and free of side effects.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, request
from flask_babel import Babel
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import Config, load_config
from app.db import Database
from app.i18n import select_locale
from app.kizuna import Kizuna
from app.links import safe_url
from app.observability import init_observability
from app.resources import STATIC, TEMPLATES, TRANSLATIONS
from app.slow_bodies import BodyDeadline


def create_app(config: Config | None = None, **overrides: Any) -> Flask:
    from app.auth.sessions import ABSOLUTE_LIFETIME, ServerSessionInterface

    config = config or load_config()
    app = Flask(
        __name__,
        instance_path=str(config.instance_path),
        template_folder=str(TEMPLATES),
        static_folder=str(STATIC),
    )
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.app_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=ABSOLUTE_LIFETIME,
        MAX_CONTENT_LENGTH=5 * 1024 * 1024,
        **overrides,
    )
    app.extensions["kizuna"] = Kizuna(config=config, db=Database(config.database_url))
    app.add_template_filter(safe_url)
    Babel(app, locale_selector=select_locale, default_translation_directories=str(TRANSLATIONS))
    app.session_interface = ServerSessionInterface()
    if config.trusted_proxies:
        # Each trusted proxy appends one address: the client is that many from the right.
        count = config.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count
        )
    init_observability(app, app.extensions["kizuna"])
    body_limit = app.config["MAX_CONTENT_LENGTH"]
    app.wsgi_app = BodyDeadline(app.wsgi_app, max_bytes=body_limit)  # type: ignore[method-assign]

    from app import error_pages, health, outage, request_guards
    from app.admin import bp as admin_bp
    from app.api import bp as api_bp
    from app.auth import bp as auth_bp
    from app.email import bp as email_bp
    from app.flows import reads as flow_reads
    from app.storefront import bp as storefront_bp
    from app.storefront.events import bp as storefront_events_bp
    from app.webhooks import bp as webhooks_bp

    flow_reads.install()
    request_guards.install(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(email_bp)
    app.register_blueprint(storefront_bp)
    app.register_blueprint(storefront_events_bp)
    app.register_blueprint(api_bp)
    outage.register(app)
    error_pages.install(app)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        # Pages link favicon.svg; this answers browsers and tools that ask the root anyway.
        response = app.send_static_file("favicon.ico")
        response.cache_control.max_age = 7 * 24 * 3600
        response.cache_control.public = True
        return response

    @app.after_request
    def _security_headers(response: Response) -> Response:
        # Embedded pages may be framed only by their own shop's admin; others by nobody. No
        # X-Frame-Options: it cannot name the shop, and Shopify's admin frames the app.
        if response.mimetype == "text/html":
            ancestors = g.get("frame_ancestors", "'none'")
            response.headers["Content-Security-Policy"] = f"frame-ancestors {ancestors};"
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Session tokens (`id_token`) and unsubscribe tokens ride in URLs: other sites see only
        # our origin.
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        if request.is_secure or config.app_url.startswith("https://"):
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    return app
