"""DigiFort's cloud hub: head office's service that every clinic box syncs to."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, jsonify, request

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


def create_app(config: HubConfig | None = None) -> Flask:
    """Build the hub's web app for `config` (default: the environment)."""
    from .api.sync import bp as sync_api

    config = config or HubConfig.from_env()
    open_hub(config)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=max(config.chunk_bytes, config.max_batch_bytes) + 64 * 1024)
    app.extensions["digifort_hub"] = HubContext(config, prepare_storage(config), nonce_store(config.redis_url))
    database.close()

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

    @app.errorhandler(404)
    @app.errorhandler(405)
    @app.errorhandler(413)
    def http_error(problem):
        if request.path.startswith("/api/"):
            return jsonify({"error": problem.name.lower().replace(" ", "_"), "message": problem.description,
                            "retry": False}), problem.code
        return problem

    app.register_blueprint(sync_api)
    return app
