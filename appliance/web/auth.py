"""Signing in and out, idle logoff, and the session monitor's two endpoints."""

from __future__ import annotations

import datetime as dt
from functools import wraps

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from core.web.security import safe_next

from .. import audit
from ..models import WebSession
from ..sessions import end_session, live_session, seconds_left, start_session, touch
from ..users import authenticate
from .extensions import client_address, limiter, login_manager

bp = Blueprint("auth", __name__)
# Background polling (session monitor, dashboard refresh, upload progress) is not activity:
# a dashboard left open on a shared screen must still be signed out when idle.
UNTOUCHED_ENDPOINTS = {"auth.session_status", "dashboard.figures", "upload.scan_status", "static"}


class SignedIn(UserMixin):
    """The signed-in user as flask-login sees it: a user plus the server-side session row."""

    def __init__(self, web_session):
        self.session = web_session
        self.user = web_session.user

    def get_id(self):
        return self.session.token

    @property
    def username(self):
        return self.user.username

    @property
    def is_admin(self):
        return self.user.role == "admin"


def idle_limit() -> dt.timedelta:
    return dt.timedelta(minutes=current_app.config["BOX"].idle_minutes)


def lifetime_limit() -> dt.timedelta:
    return dt.timedelta(hours=current_app.config["BOX"].session_hours)


@login_manager.user_loader
def load_user(token: str):
    web_session = live_session(token, idle_limit(), lifetime_limit())
    if web_session is None:
        g.session_ended = True
        return None
    return SignedIn(web_session)


@login_manager.unauthorized_handler
def unauthorized():
    if g.get("session_ended"):
        flash(
            "You were signed out because the session ended (idle for too long, open for "
            f"{current_app.config['BOX'].session_hours:g} hours, or ended by an administrator)."
        )
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
        return jsonify(error="not signed in"), 401
    return redirect(url_for("auth.login", next=request.path if request.method == "GET" else None))


@bp.before_app_request
def _touch_session():
    if current_user.is_authenticated and request.endpoint not in UNTOUCHED_ENDPOINTS:
        touch(current_user.session)


def actor() -> str:
    return current_user.username if current_user.is_authenticated else "anonymous"


def admin_required(view):
    """Only admins; everyone else gets 403."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated or not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


def _account_key() -> str:
    return "account:" + (request.form.get("username") or "").strip().lower()


def _failed(response) -> bool:
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["BOX"].login_limit_per_address,
    methods=["POST"],
    deduct_when=_failed,
    error_message="too many sign-in attempts from this address",
)
@limiter.limit(
    lambda: current_app.config["BOX"].login_limit_per_account,
    methods=["POST"],
    key_func=_account_key,
    deduct_when=_failed,
    error_message="too many failed sign-ins for this account",
)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data.strip(), form.password.data)
        if user is not None:
            session.clear()
            web_session = start_session(user, client_address())
            login_user(SignedIn(web_session))
            audit.record("auth.login", actor=user.username, obj=user, address=client_address())
            return redirect(safe_next(request.args.get("next"), url_for("dashboard.index")))
        audit.record("auth.login_failed", actor=form.username.data.strip()[:100], address=client_address())
        flash("Wrong username or password, or the account is disabled.")
        return render_template("login.html", form=form), 401
    return render_template("login.html", form=form)


@bp.post("/logout")
def logout():
    end_session(current_user.session, "signed out")
    audit.record("auth.logout", actor=actor(), obj=current_user.user, address=client_address())
    logout_user()
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("auth.login"))


@bp.get("/session/status")
def session_status():
    """For the session monitor: seconds left before idle logoff (asking does not count as activity)."""
    return jsonify(seconds_left=round(seconds_left(current_user.session, idle_limit(), lifetime_limit())))


@bp.post("/session/keepalive")
def keepalive():
    """'Stay signed in': any request restarts the idle clock (never past the session's lifetime)."""
    touched = WebSession.get_by_id(current_user.session.id)
    return jsonify(seconds_left=round(seconds_left(touched, idle_limit(), lifetime_limit())))
