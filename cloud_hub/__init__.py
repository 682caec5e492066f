"""The hub: head office's service that every clinic box syncs to (`python -m cloud_hub ...`).

`create_app(config)` builds its Flask app: the sync API for the boxes (`api/sync.py`) and head
office's pages and JSON API (`web/`). It builds on `core` and the wire protocol
(`sync.protocol`), and never imports the box (`appliance`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask, jsonify, render_template, request

import core.web
from core.web.security import add_security_headers, secret_key_for, trust_proxies

from .config import HubConfig
from .db import database
from .hub import open_hub, prepare_storage
from .nonces import nonce_store
from .storage import Storage


@dataclass
class HubContext:
    """What the hub's views share: settings, blob storage, the nonce cache."""

    config: HubConfig
    storage: Storage
    nonces: object


ERRORS = {
    400: ("Bad request", "The request could not be understood."),
    401: ("Not signed in", "This address needs credentials."),
    403: ("Not allowed", "Your role does not give access to this page."),
    404: ("Not found", "There is nothing here, or it is not yours to see."),
    405: ("Not allowed", "This address does not take that kind of request."),
    413: ("Too large", "The request is larger than the hub accepts."),
    429: ("Too many attempts", "Too many attempts; wait a few minutes and try again."),
}


def create_app(config: HubConfig | None = None) -> Flask:
    """Build the hub's web app for `config` (default: the environment)."""
    from .api.sync import bp as sync_api
    from .web import access, account, api, auth, billing_views, metering, metrics, register_views, ui, user_security
    from .web.extensions import csrf, limiter

    config = config or HubConfig.from_env()
    open_hub(config, pooled=True)
    static = Path(core.web.__file__).resolve().parent / "static"
    app = Flask(__name__, template_folder="web/templates", static_folder=str(static))
    app.config.update(
        SECRET_KEY=secret_key_for(config.secret_key, config.data_dir),
        MAX_CONTENT_LENGTH=max(config.chunk_bytes, config.max_batch_bytes) + 64 * 1024,
        SESSION_COOKIE_NAME="digifort_hub_form",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=config.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,
        RATELIMIT_STORAGE_URI=config.redis_url or "memory://",
        RATELIMIT_HEADERS_ENABLED=True,
    )
    trust_proxies(app, config.proxy_hops)
    app.extensions["digifort_hub"] = HubContext(config, prepare_storage(config), nonce_store(config.redis_url))
    database.close()
    csrf.init_app(app)
    limiter.init_app(app)

    @app.before_request
    def connect():
        database.connect(reuse_if_open=True)

    @app.teardown_request
    def disconnect(_exc):
        if not database.is_closed():
            database.close()

    @app.get("/healthz")
    def healthz():
        database.execute_sql("SELECT 1")
        return jsonify({"ok": True})

    def http_error(problem):
        if request.path.startswith("/api/"):
            return jsonify(
                {
                    "error": problem.name.lower().replace(" ", "_"),
                    "message": problem.description,
                    "retry": problem.code == 429,
                }
            ), problem.code
        title, message = ERRORS[problem.code]
        return render_template("hub_error.html", code=problem.code, title=title, message=message), problem.code

    for code in ERRORS:
        app.register_error_handler(code, http_error)
    app.before_request(access.load_signed_in)
    app.after_request(add_security_headers)
    app.after_request(metering.meter_request)
    csrf.exempt(sync_api)
    blueprints = (
        sync_api,
        auth.bp,
        account.bp,
        ui.bp,
        user_security.bp,
        api.bp,
        billing_views.bp,
        register_views.bp,
        metrics.bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app
