"""Who is asking: the signed-in user on every request, roles, and the clinics they may see.

Every route needs a signed-in user except sign-in itself, the health check, static files and
the sync API (which has its own signed requests). Objects of another organisation, or of a
clinic the user is not given, answer 404 as if they did not exist.
"""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app, g, jsonify, redirect, request, url_for

from .. import sessions
from ..models import Clinic, UserClinic
from .extensions import client_address

PUBLIC_ENDPOINTS = {
    "hub_auth.login",
    "hub_auth.second_factor",
    "hub_auth.setup_at_sign_in",
    "hub_auth.token",
    "healthz",
    "static",
    "hub_metrics.metrics",
}


def hub():
    """The app's HubContext (settings, storage, nonce cache)."""
    return current_app.extensions["digifort_hub"]


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def load_signed_in():
    """before_request: find the session behind the cookie, or turn the request away."""
    g.signed_in = None
    if request.blueprint == "sync_api" or request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    token = request.cookies.get(sessions.COOKIE)
    if token:
        config = hub().config
        g.signed_in = sessions.resume(token, current_app.config["SECRET_KEY"], config.idle_minutes)
    if g.signed_in is not None:
        return None
    if wants_json():
        return jsonify(error="not_signed_in", message="sign in first (POST /api/auth/token)", retry=False), 401
    return redirect(url_for("hub_auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None))


def actor() -> str:
    return g.signed_in.user.email if g.get("signed_in") else "anonymous"


def organisation_id() -> int:
    return g.signed_in.organisation.id


def roles(*allowed: str):
    """Only users with one of `allowed` roles; others get 403."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if g.signed_in.user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def visible_clinic_ids() -> list[int]:
    """The clinics the user may see: those they are given, or every clinic of their organisation."""
    user = g.signed_in.user
    given = [clinic_id for (clinic_id,) in UserClinic.select(UserClinic.clinic).where(UserClinic.user == user).tuples()]
    if given:
        return given
    return [
        clinic_id
        for (clinic_id,) in Clinic.select(Clinic.id).where(Clinic.organisation == user.organisation_id).tuples()
    ]


def address() -> str:
    return client_address()
