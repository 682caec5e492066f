"""Signing in and out, idle logoff, and the session monitor's two endpoints."""

from __future__ import annotations

import datetime as dt
from functools import wraps

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from limits import parse_many
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from core.web.security import safe_next

from .. import audit, mfa
from ..models import WebSession
from ..sessions import (
    challenge_failed,
    end_challenge,
    end_session,
    live_challenge,
    live_session,
    seconds_left,
    start_challenge,
    start_session,
    touch,
)
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


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=40)])


# The session cookie's key for a sign-in waiting for its second factor (holds a random token only).
CHALLENGE = "sign_in_challenge"
# Wrong passwords and wrong codes count against one budget per account, shared by every form that
# checks either, so that guessing codes is limited exactly like guessing passwords.
ACCOUNT_SCOPE = "sign-in-account"


def account_key(username: str) -> str:
    """The rate limiter's key for one account's failed sign-ins."""
    return "account:" + username.strip().lower()


def _form_account_key() -> str:
    return account_key(request.form.get("username") or "")


def _challenge_account_key() -> str:
    challenge = _pending("setup" if request.endpoint == "auth.setup_at_sign_in" else "code")
    return account_key(challenge.user.username if challenge else "")


def signed_in_account_key() -> str:
    """The limiter key of the signed-in user (forms that ask for their current password)."""
    return account_key(current_user.username if current_user.is_authenticated else "")


def _failed(response) -> bool:
    return response.status_code != 302


def _wrong(response) -> bool:
    return response.status_code not in (200, 302)


def refused(response) -> bool:
    """A wrong current password or code (401); a weak new password is not a failed sign-in."""
    return response.status_code == 401


def _per_address(deduct_when):
    return limiter.limit(
        lambda: current_app.config["BOX"].login_limit_per_address,
        methods=["POST"],
        deduct_when=deduct_when,
        error_message="too many sign-in attempts from this address",
    )


def per_account(key_func, deduct_when=_wrong):
    """The per-account limit on failed sign-ins, for any form that checks a password or a code."""
    return limiter.shared_limit(
        lambda: current_app.config["BOX"].login_limit_per_account,
        ACCOUNT_SCOPE,
        methods=["POST"],
        key_func=key_func,
        deduct_when=deduct_when,
        error_message="too many failed sign-ins for this account",
    )


def _account_limits():
    return list(parse_many(current_app.config["BOX"].login_limit_per_account))


def locked_out(username: str) -> bool:
    """True while the account's failed sign-ins have used up its budget."""
    return any(
        limiter.limiter.get_window_stats(item, account_key(username), ACCOUNT_SCOPE).remaining <= 0
        for item in _account_limits()
    )


def lift_lockout(username: str) -> None:
    """Forget the account's failed sign-ins, so that it may sign in again at once."""
    for item in _account_limits():
        limiter.limiter.clear(item, account_key(username), ACCOUNT_SCOPE)


def secret_key() -> str:
    return current_app.config["SECRET_KEY"]


def _sign_in(user, method: str) -> None:
    """Open the real session: only after the password and, when due, the second factor."""
    session.clear()
    web_session = start_session(user, client_address())
    login_user(SignedIn(web_session))
    audit.record("auth.login", actor=user.username, obj=user, address=client_address(), factor=method)


def _pending(purpose: str):
    return live_challenge(session.get(CHALLENGE), purpose)


def _start_challenge(user, next_url: str):
    purpose = "code" if user.has_mfa else "setup"
    session.clear()
    session[CHALLENGE] = start_challenge(user, purpose, next_url, client_address())
    return redirect(url_for("auth.second_factor" if purpose == "code" else "auth.setup_at_sign_in"))


def _challenge_gone():
    session.pop(CHALLENGE, None)
    flash("That sign-in ended (it took too long, or too many codes were wrong). Sign in again.")
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@_per_address(_failed)
@per_account(_form_account_key, _failed)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.username.data.strip(), form.password.data)
        if user is not None:
            next_url = safe_next(request.args.get("next"), url_for("dashboard.index"))
            if user.has_mfa or mfa.required_for(user, current_app.config["BOX"]):
                return _start_challenge(user, next_url)
            _sign_in(user, "password")
            return redirect(next_url)
        audit.record("auth.login_failed", actor=form.username.data.strip()[:100], address=client_address())
        flash("Wrong username or password, or the account is disabled.")
        return render_template("login.html", form=form), 401
    return render_template("login.html", form=form)


@bp.route("/login/code", methods=["GET", "POST"])
@_per_address(_wrong)
@per_account(_challenge_account_key)
def second_factor():
    """The second step: a code from the authenticator app, or one of the recovery codes."""
    challenge = _pending("code")
    if challenge is None:
        return _challenge_gone()
    form = CodeForm()
    if form.validate_on_submit():
        used = mfa.check(challenge.user, form.code.data, secret_key())
        if used:
            end_challenge(challenge)
            _sign_in(challenge.user, used)
            if used == "recovery":
                left = mfa.recovery_codes_left(challenge.user)
                flash(f"You signed in with a recovery code; {left} left. Make new ones on the Security page.", "warn")
            return redirect(challenge.next_url or url_for("dashboard.index"))
        challenge_failed(challenge)
        audit.record("auth.mfa_failed", actor=challenge.user.username, obj=challenge.user, address=client_address())
        flash("That code is not right. Type the 6 digits the app shows now, or a recovery code.", "error")
        return render_template("login_code.html", form=form), 401
    return render_template("login_code.html", form=form)


@bp.route("/login/setup", methods=["GET", "POST"])
@_per_address(_wrong)
@per_account(_challenge_account_key)
def setup_at_sign_in():
    """Admins must set up two-step sign-in before their first session (APPLIANCE_REQUIRE_MFA)."""
    challenge = _pending("setup")
    if challenge is None:
        return _challenge_gone()
    user, form, status = challenge.user, CodeForm(), 200
    if form.validate_on_submit():
        codes = mfa.confirm_setup(user, form.code.data, secret_key(), actor=user.username)
        if codes:
            end_challenge(challenge)
            _sign_in(user, "setup")
            return render_template("recovery_codes.html", codes=codes, next_url=challenge.next_url)
        challenge_failed(challenge)
        audit.record("auth.mfa_failed", actor=user.username, obj=user, address=client_address())
        flash("That code is not right. Type the 6 digits the app shows now.", "error")
        status = 401
    secret, qr = mfa.setup_secret(user, secret_key())
    return render_template(
        "mfa_setup.html", form=form, secret=secret, qr=qr, action=url_for("auth.setup_at_sign_in"), at_sign_in=True
    ), status


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
