"""Login required everywhere by default, and the security headers on every response."""
from __future__ import annotations

from flask import Flask, request
from flask_login import current_user, login_required

PUBLIC_ENDPOINTS = {"auth.login", "security.healthz", "static", "metrics.metrics"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def add_security_headers(response):
    """CSP without inline script, no sniffing or framing, no caching of pages with patient data."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


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
