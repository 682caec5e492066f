"""The clinic web UI: `create_app(config)` builds the Flask app served by gunicorn."""
from __future__ import annotations

import secrets

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from ..box import open_box
from ..config import Config
from ..db import database
from . import ratelimit  # noqa: F401  (registers the digifort+sqlite:// limiter storage)
from .extensions import csrf, limiter, login_manager


def secret_key_for(config) -> str:
    """`config.secret_key`, or one generated once and kept (0600) in `config.data_dir`."""
    if config.secret_key:
        return config.secret_key
    path = config.data_dir / "web-secret-key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(config: Config | None = None) -> Flask:
    """Build the web app for the box described by `config` (default: the environment)."""
    config = config or Config.from_env()
    open_box(config)
    database.close()
    app = Flask(__name__)
    app.config.update(
        BOX=config,
        SECRET_KEY=secret_key_for(config),
        SESSION_COOKIE_NAME="digifort_box",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        MAX_CONTENT_LENGTH=config.max_file_bytes + 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        RATELIMIT_STORAGE_URI="digifort+sqlite://",
        RATELIMIT_HEADERS_ENABLED=True,
    )
    if config.proxy_hops > 0:
        # Behind nginx: trust exactly that many hops for the client's address and scheme.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.proxy_hops, x_proto=config.proxy_hops)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)

    @app.before_request
    def _connect():
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not database.is_closed():
            database.close()

    from . import admin_users, audit_log, auth, dashboard, documents, errors, metrics, patients, quarantine, review
    from . import search, security, upload

    for module in (auth, dashboard, patients, documents, search, review, quarantine, upload, audit_log,
                   admin_users, metrics):
        app.register_blueprint(module.bp)
    security.init_app(app)
    errors.init_app(app)
    return app
