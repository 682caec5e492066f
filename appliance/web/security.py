"""Login required everywhere by default, and the security headers on every response."""

from __future__ import annotations

from flask import Flask, request
from flask_login import current_user, login_required

from core.web.security import add_security_headers

PUBLIC_ENDPOINTS = {
    "auth.login",
    "auth.second_factor",
    "auth.setup_at_sign_in",
    "security.healthz",
    "static",
    "metrics.metrics",
    "unlock.index",
}


def init_app(app: Flask):
    @app.before_request
    def _require_login():
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        if not current_user.is_authenticated:
            return login_required(lambda: None)()
        return None

    app.after_request(add_security_headers)

    @app.get("/healthz", endpoint="security.healthz")
    def healthz():
        return {"status": "ok"}
