"""Signing in and out at the hub: the browser form and POST /api/auth/token share one path.

Credentials are checked against the user and their organisation; a new server-side session is
made and its JWT set as an HttpOnly, SameSite=Strict cookie (Secure unless HUB_SECURE_COOKIES
is off for plain-HTTP development). A user with two-step sign-in (or a role that must have it,
past its grace period) first passes /login/code (or /login/setup) on a pending challenge: no
session and no JWT exist before that.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from limits import parse_many
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from core.web.security import safe_next

from .. import audit, mfa, sessions
from .access import address, hub
from .extensions import csrf, limiter

bp = Blueprint("hub_auth", __name__)
WRONG = "Wrong e-mail or password, or the account is disabled."


class LoginForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=40)])


# The form cookie's key for a sign-in waiting for its second factor (holds a random token only).
CHALLENGE = "sign_in_challenge"
# Wrong passwords and wrong codes count against one budget per account, shared by every form and
# API call that checks either, so that guessing codes is limited exactly like guessing passwords.
ACCOUNT_SCOPE = "hub-sign-in-account"


def account_key(email: str) -> str:
    """The rate limiter's key for one account's failed sign-ins."""
    return "hub-account:" + email.strip().lower()


def _account_key() -> str:
    data = request.get_json(silent=True) if request.is_json else request.form
    return account_key(str((data or {}).get("email") or ""))


def _challenge_account_key() -> str:
    challenge = _pending("setup" if request.endpoint == "hub_auth.setup_at_sign_in" else "code")
    return account_key(challenge.user.email if challenge else "")


def signed_in_account_key() -> str:
    """The limiter key of the signed-in user (forms that ask for their current password)."""
    return account_key(g.signed_in.user.email if g.get("signed_in") else "")


def _failed(response) -> bool:
    return response.status_code not in (200, 302)


def refused(response) -> bool:
    """A wrong current password or code (401); a weak new password is not a failed sign-in."""
    return response.status_code == 401


def per_account(key_func, deduct_when=_failed):
    """The per-account limit on failed sign-ins, for any form that checks a password or a code."""
    return limiter.shared_limit(
        lambda: hub().config.login_limit_per_account,
        ACCOUNT_SCOPE,
        methods=["POST"],
        key_func=key_func,
        deduct_when=deduct_when,
        error_message="too many failed sign-ins for this account",
    )


def _login_limits(key_func):
    def decorate(view):
        view = limiter.limit(
            lambda: hub().config.login_limit_per_address,
            methods=["POST"],
            deduct_when=_failed,
            error_message="too many sign-in attempts from this address",
        )(view)
        return per_account(key_func)(view)

    return decorate


def locked_out(email: str) -> bool:
    """True while the account's failed sign-ins have used up its budget."""
    return any(
        limiter.limiter.get_window_stats(item, account_key(email), ACCOUNT_SCOPE).remaining <= 0
        for item in parse_many(hub().config.login_limit_per_account)
    )


def lift_lockout(email: str) -> None:
    """Forget the account's failed sign-ins, so that it may sign in again at once."""
    for item in parse_many(hub().config.login_limit_per_account):
        limiter.limiter.clear(item, account_key(email), ACCOUNT_SCOPE)


def secret_key() -> str:
    return current_app.config["SECRET_KEY"]


def _signed_in_response(response, user, factor: str = "password"):
    config = hub().config
    hub_session, token = sessions.start(user, secret_key(), config.session_hours, address(), factor)
    response.set_cookie(
        sessions.COOKIE,
        token,
        httponly=True,
        secure=config.secure_cookies,
        samesite="Strict",
        expires=hub_session.expires_at,
        path="/",
    )
    return response


def _pending(purpose: str):
    return sessions.live_challenge(session.get(CHALLENGE), purpose)


def _challenge_gone():
    session.pop(CHALLENGE, None)
    flash("That sign-in ended (it took too long, or too many codes were wrong). Sign in again.")
    return redirect(url_for("hub_auth.login"))


def _remind(user) -> None:
    due = mfa.due_by(user, hub().config)
    if due is not None and not user.has_mfa:
        flash(
            f"Your role must use two-step sign-in from {due:%d %b %Y}; after that you cannot sign in without it. "
            "Set it up now on the Security page.",
            "warn",
        )


@bp.route("/login", methods=["GET", "POST"])
@_login_limits(_account_key)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = sessions.authenticate(form.email.data, form.password.data)
        if user is not None:
            next_url = safe_next(request.args.get("next"), url_for("hub_ui.dashboard"))
            if user.has_mfa or mfa.must_set_up_now(user, hub().config):
                purpose = "code" if user.has_mfa else "setup"
                session.clear()
                session[CHALLENGE] = sessions.start_challenge(user, purpose, next_url, address())
                return redirect(url_for("hub_auth.second_factor" if purpose == "code" else "hub_auth.setup_at_sign_in"))
            _remind(user)
            return _signed_in_response(redirect(next_url), user)
        audit.record("login_failed", actor=form.email.data.strip()[:200], address=address())
        flash(WRONG)
        return render_template("hub_login.html", form=form), 401
    return render_template("hub_login.html", form=form)


@bp.route("/login/code", methods=["GET", "POST"])
@_login_limits(_challenge_account_key)
def second_factor():
    """The second step: a code from the authenticator app, or one of the recovery codes."""
    challenge = _pending("code")
    if challenge is None:
        return _challenge_gone()
    user, form = challenge.user, CodeForm()
    if form.validate_on_submit():
        used = mfa.check(user, form.code.data, secret_key())
        if used:
            sessions.end_challenge(challenge)
            session.pop(CHALLENGE, None)
            if used == "recovery":
                left = mfa.recovery_codes_left(user)
                flash(f"You signed in with a recovery code; {left} left. Make new ones on the Security page.", "warn")
            return _signed_in_response(redirect(challenge.next_url or url_for("hub_ui.dashboard")), user, used)
        sessions.challenge_failed(challenge)
        audit.record("mfa_failed", actor=user.email, organisation=user.organisation_id, address=address())
        flash("That code is not right. Type the 6 digits the app shows now, or a recovery code.", "error")
        return render_template("hub_login_code.html", form=form), 401
    return render_template("hub_login_code.html", form=form)


@bp.route("/login/setup", methods=["GET", "POST"])
@_login_limits(_challenge_account_key)
def setup_at_sign_in():
    """A role that must have two-step sign-in, past its grace period, sets it up before any session."""
    challenge = _pending("setup")
    if challenge is None:
        return _challenge_gone()
    user, form, status = challenge.user, CodeForm(), 200
    if form.validate_on_submit():
        codes = mfa.confirm_setup(user, form.code.data, secret_key(), actor=user.email)
        if codes:
            sessions.end_challenge(challenge)
            session.pop(CHALLENGE, None)
            page = render_template("hub_recovery_codes.html", codes=codes, next_url=challenge.next_url)
            return _signed_in_response(make_response(page), user, "setup")
        sessions.challenge_failed(challenge)
        audit.record("mfa_failed", actor=user.email, organisation=user.organisation_id, address=address())
        flash("That code is not right. Type the 6 digits the app shows now.", "error")
        status = 401
    secret, qr = mfa.setup_secret(user, secret_key())
    action = url_for("hub_auth.setup_at_sign_in")
    return render_template(
        "hub_mfa_setup.html", form=form, secret=secret, qr=qr, action=action, at_sign_in=True
    ), status


@bp.post("/api/auth/token")
@csrf.exempt
@_login_limits(_account_key)
def token():
    data = request.get_json(silent=True) or {}
    user = sessions.authenticate(str(data.get("email", "")), str(data.get("password", "")))
    if user is None:
        audit.record("login_failed", actor=str(data.get("email", ""))[:200], address=address())
        return jsonify(error="wrong_credentials", message=WRONG, retry=False), 401
    factor = "password"
    if user.has_mfa:
        factor = mfa.check(user, str(data.get("code") or ""), secret_key()) or ""
        if not factor:
            if data.get("code"):
                audit.record("mfa_failed", actor=user.email, organisation=user.organisation_id, address=address())
            message = 'two-step sign-in: send the app\'s 6-digit code (or a recovery code) as "code"'
            return jsonify(error="code_required", message=message, retry=False), 401
    elif mfa.must_set_up_now(user, hub().config):
        message = "this role must use two-step sign-in: set it up by signing in with a browser first"
        return jsonify(error="mfa_setup_required", message=message, retry=False), 403
    body = {
        "user": {"id": user.id, "email": user.email, "role": user.role},
        "organisation": {"id": user.organisation_id},
    }
    return _signed_in_response(make_response(jsonify(body)), user, factor)


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
