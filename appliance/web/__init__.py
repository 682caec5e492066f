"""The clinic web UI: `create_app(config)` builds the Flask app served by gunicorn."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

import core.web
from core.web.security import trust_proxies

from ..box import open_box
from ..config import Config
from ..db import database
from ..unlock import try_unlock
from . import locked as locked_mode
from . import ratelimit  # noqa: F401  (registers the digifort+sqlite:// limiter storage)
from .extensions import csrf, limiter, login_manager, unlock_limiter
from .stored_files import MemoryUploadsRequest

STATIC = Path(core.web.__file__).resolve().parent / "static"


def create_app(config: Config | None = None) -> Flask:
    """Build the web app for the box described by `config` (default: the environment)."""
    config = config or Config.from_env()
    key = try_unlock(config) if config.encryption else None
    locked = config.encryption and key is None
    if not locked:
        open_box(config, key)
        database.close()
    app = Flask(__name__, static_folder=str(STATIC))
    app.request_class = MemoryUploadsRequest
    app.config.update(
        BOX=config,
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
    trust_proxies(app, config.proxy_hops)
    locked_mode.init_app(app, locked)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    unlock_limiter.init_app(app)

    # Each web thread keeps its database connection between requests: SQLCipher keeps the pages
    # it decrypted (and SQLite its cache) instead of starting cold on every request. A request
    # that failed drops it, so the next one starts clean.
    @app.before_request
    def _connect():
        if not app.config["BOX_LOCKED"]:
            database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if exc is not None and not database.is_closed():
            database.close()

    from . import (
        account,
        admin_register,
        admin_users,
        audit_log,
        auth,
        bulk,
        chart_export,
        dashboard,
        documents,
        errors,
        metrics,
        patients,
        quarantine,
        review,
        search,
        security,
        trash,
        unlock,
        upload,
    )

    for module in (
        auth,
        account,
        dashboard,
        patients,
        chart_export,
        documents,
        bulk,
        search,
        review,
        quarantine,
        trash,
        upload,
        audit_log,
        admin_users,
        admin_register,
        metrics,
        unlock,
    ):
        app.register_blueprint(module.bp)
    security.init_app(app)
    errors.init_app(app)
    return app
