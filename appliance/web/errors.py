"""Error pages that say what happened, in the app's own look."""

from __future__ import annotations

import peewee as pw
from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from appliance.db import database
from appliance.sync.retention import OriginalUnavailable

MESSAGES = {
    400: "The request was not understood.",
    403: "You do not have permission to do that.",
    404: "There is nothing here.",
    405: "That action is not allowed here.",
    413: "The file is too large to upload.",
}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def init_app(app: Flask):
    def render(code: int, message: str):
        if _wants_json():
            return jsonify(error=message), code
        return render_template("error.html", code=code, message=message), code

    for code, message in MESSAGES.items():
        app.register_error_handler(code, lambda e, c=code, m=message: render(c, m))

    @app.errorhandler(OriginalUnavailable)
    def _original_elsewhere(error):
        return render(
            503,
            "This original is kept at head office and the box cannot fetch it right now "
            f"({error}). The text and page images already shown are still here; try again when "
            "the box is online.",
        )

    @app.errorhandler(pw.DatabaseError)
    def _key_rotated(error):
        """A read caught by `keys rotate` between its connection and the rekey: connect again
        (with the new key) and answer it; anything else that fails is a real error."""
        if "not a database" not in str(error) or request.method not in ("GET", "HEAD") or g.get("reconnected"):
            raise error
        g.reconnected = True
        database.close()
        database.connect()
        return app.dispatch_request()

    @app.errorhandler(CSRFError)
    def _csrf(error):
        return render(400, "The form expired or was not sent from this site. Go back, reload the page and try again.")

    @app.errorhandler(429)
    def _too_many(error):
        if request.endpoint in ("auth.login", "auth.second_factor", "auth.setup_at_sign_in"):
            from .auth import LoginForm

            retry = error.retry_after if hasattr(error, "retry_after") else None
            message = (
                f"Too many sign-in attempts. For your security, sign-in is paused; try again in {_minutes(error)}."
            )
            return render_template("login.html", form=LoginForm(), lockout=message, retry=retry), 429
        return render(429, "Too many requests; wait a moment and try again.")


def _minutes(error) -> str:
    limit = getattr(error, "limit", None)
    seconds = limit.limit.get_expiry() if limit is not None else 300
    return f"{max(1, round(seconds / 60))} minute(s)"
