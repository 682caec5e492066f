"""Signing in and out at the hub: the browser form and POST /api/auth/token share one path.

Credentials are checked against the user and their organisation; a new server-side session is
made and its JWT set as an HttpOnly, SameSite=Strict cookie (Secure unless HUB_SECURE_COOKIES
is off for plain-HTTP development).
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, jsonify, make_response, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from core.web.security import safe_next

from .. import audit, sessions
from .access import address, hub
from .extensions import csrf, limiter

bp = Blueprint("hub_auth", __name__)
WRONG = "Wrong e-mail or password, or the account is disabled."


class LoginForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


def _account_key() -> str:
    data = request.get_json(silent=True) if request.is_json else request.form
    return "hub-account:" + str((data or {}).get("email") or "").strip().lower()


def _failed(response) -> bool:
    return response.status_code not in (200, 302)


def _login_limits(view):
    config = lambda: hub().config  # noqa: E731
    view = limiter.limit(
        lambda: config().login_limit_per_address,
        methods=["POST"],
        deduct_when=_failed,
        error_message="too many sign-in attempts from this address",
    )(view)
    return limiter.limit(
        lambda: config().login_limit_per_account,
        methods=["POST"],
        key_func=_account_key,
        deduct_when=_failed,
        error_message="too many failed sign-ins for this account",
    )(view)


def _signed_in_response(response, user):
    config = hub().config
    session, token = sessions.start(user, current_app.config["SECRET_KEY"], config.session_hours, address())
    response.set_cookie(
        sessions.COOKIE,
        token,
        httponly=True,
        secure=config.secure_cookies,
        samesite="Strict",
        expires=session.expires_at,
        path="/",
    )
    return response


@bp.route("/login", methods=["GET", "POST"])
@_login_limits
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = sessions.authenticate(form.email.data, form.password.data)
        if user is not None:
            return _signed_in_response(redirect(safe_next(request.args.get("next"), url_for("hub_ui.dashboard"))), user)
        audit.record("login_failed", actor=form.email.data.strip()[:200], address=address())
        flash(WRONG)
        return render_template("hub_login.html", form=form), 401
    return render_template("hub_login.html", form=form)


@bp.post("/api/auth/token")
@csrf.exempt
@_login_limits
def token():
    data = request.get_json(silent=True) or {}
    user = sessions.authenticate(str(data.get("email", "")), str(data.get("password", "")))
    if user is None:
        audit.record("login_failed", actor=str(data.get("email", ""))[:200], address=address())
        return jsonify(error="wrong_credentials", message=WRONG, retry=False), 401
    body = {
        "user": {"id": user.id, "email": user.email, "role": user.role},
        "organisation": {"id": user.organisation_id},
    }
    return _signed_in_response(make_response(jsonify(body)), user)


@bp.get("/api/auth/me")
def me():
    signed_in = g.signed_in
    return jsonify(
        user={"id": signed_in.user.id, "email": signed_in.user.email, "role": signed_in.user.role},
        organisation={"id": signed_in.organisation.id, "name": signed_in.organisation.name},
        session_expires_at=signed_in.session.expires_at.isoformat() + "Z",
        csrf_token=generate_csrf(),
    )


def _signed_out(response):
    sessions.end(g.signed_in.session, "signed out")
    audit.record("logout", actor=g.signed_in.user.email, organisation=g.signed_in.organisation.id, address=address())
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


@bp.post("/api/auth/logout")
def api_logout():
    return _signed_out(make_response(jsonify(signed_out=True)))


@bp.post("/logout")
def logout():
    flash("You are signed out.")
    return _signed_out(redirect(url_for("hub_auth.login")))
