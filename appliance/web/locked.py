"""The web app of a locked box: only the unlock page, static files and the health check answer.

Each request while locked looks in the runtime folder first: another process of the box (the
worker after Clevis, another web worker after the passphrase) may have unlocked it meanwhile.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app, jsonify, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface

from core.web.security import secret_key_for

from .. import data_key
from ..box import open_box
from ..config import Config
from ..data_key import DataKey
from ..web_secret import web_secret

OPEN_WHILE_LOCKED = {"unlock.index", "static", "security.healthz"}
# While locked only the unlock form is served; its CSRF token is signed with this secret from
# the never-encrypted keys folder, which protects nothing else (never the sessions' secret).
UNLOCK_FORM_SECRET = "unlock-form-secret"  # noqa: S105  (a file name)
_opening = threading.Lock()


def unlock_form_secret(config: Config) -> str:
    """The secret the unlock page signs its form with while the box is locked."""
    config.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return secret_key_for(None, config.keys_dir, UNLOCK_FORM_SECRET)


def open_unlocked(app: Flask, key: DataKey) -> None:
    """Open the box's database with `key` and sign sessions with the real secret from now on."""
    with _opening:
        if not app.config["BOX_LOCKED"]:
            return
        config = app.config["BOX"]
        open_box(config, key)
        app.config["SECRET_KEY"] = web_secret(config)
        app.config["BOX_LOCKED"] = False


class UnlockAwareSessions(SecureCookieSessionInterface):
    """Sessions read after a look in the runtime folder: when another process has unlocked the
    box, this request's cookie is already checked with the real secret (a flash message or a
    sign-in made by another web worker is not lost)."""

    def open_session(self, app, request):
        if app.config["BOX_LOCKED"]:
            key = data_key.recall(app.config["BOX"])
            if key is not None:
                open_unlocked(app, key)
        return super().open_session(app, request)


def init_app(app: Flask, locked: bool) -> None:
    """Serve the unlock page (and nothing with patient data) until the box is unlocked.

    Registered before every other hook, so that no hook reaches the closed database first."""
    config = app.config["BOX"]
    app.config["BOX_LOCKED"] = locked
    app.config["SECRET_KEY"] = unlock_form_secret(config) if locked else web_secret(config)

    app.session_interface = UnlockAwareSessions()

    @app.before_request
    def _while_locked():
        if not current_app.config["BOX_LOCKED"] or request.endpoint in OPEN_WHILE_LOCKED:
            return None
        if request.path.startswith("/api/") or request.path == "/metrics":
            return jsonify(error="the box is locked"), 503
        return redirect(url_for("unlock.index"))
