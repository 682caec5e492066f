"""Each user's own Security page: change the password, set up or turn off two-step sign-in, renew
the recovery codes. Every form that checks the current password or a code counts against the
account's sign-in budget."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from core.passwords import verify_password

from .. import mfa, tenancy
from ..models import User
from .access import hub
from .auth import CodeForm, per_account, refused, secret_key, signed_in_account_key

bp = Blueprint("hub_account", __name__)


def _me() -> User:
    return User.get_by_id(g.signed_in.user.id)


def _page(status: int = 200):
    me = _me()
    return render_template(
        "hub_security.html",
        account=me,
        codes_left=mfa.recovery_codes_left(me) if me.has_mfa else 0,
        due=mfa.due_by(me, hub().config),
    ), status


@bp.get("/security")
def index():
    return _page()


@bp.post("/security/password")
@per_account(signed_in_account_key, refused)
def password():
    if request.form.get("new_password") != request.form.get("repeat_password"):
        flash("Not changed: the two new passwords differ.", "error")
        return _page(400)
    try:
        current, new = request.form.get("current_password", ""), request.form.get("new_password", "")
        tenancy.change_own_password(_me(), current, new, g.signed_in.session.id)
    except tenancy.TenancyError as problem:
        flash(f"Not changed: {problem}.", "error")
        return _page(401 if "current password" in str(problem) else 400)
    flash("Password changed; your other sessions have ended.")
    return redirect(url_for("hub_account.index"))


@bp.route("/security/mfa/setup", methods=["GET", "POST"])
@per_account(signed_in_account_key, refused)
def setup():
    me, form, status = _me(), CodeForm(), 200
    if form.validate_on_submit():
        codes = mfa.confirm_setup(me, form.code.data, secret_key(), actor=me.email)
        if codes:
            return render_template("hub_recovery_codes.html", codes=codes, next_url=url_for("hub_account.index"))
        flash("That code is not right. Type the 6 digits the app shows now.", "error")
        status = 401
    secret, qr = mfa.setup_secret(me, secret_key())
    return render_template(
        "hub_mfa_setup.html", form=form, secret=secret, qr=qr, action=url_for("hub_account.setup"), at_sign_in=False
    ), status


@bp.post("/security/mfa/off")
@per_account(signed_in_account_key, refused)
def turn_off():
    me = _me()
    if me.role in mfa.REQUIRED_ROLES:
        flash("Your role must keep two-step sign-in; set it up again to move to a new phone.", "error")
        return _page(403)
    if not verify_password(me.password_hash, request.form.get("current_password", "")):
        flash("Not turned off: the current password is not right.", "error")
        return _page(401)
    mfa.turn_off(me, actor=me.email)
    flash("Two-step sign-in is off.")
    return redirect(url_for("hub_account.index"))


@bp.post("/security/mfa/recovery-codes")
@per_account(signed_in_account_key, refused)
def recovery_codes():
    me = _me()
    if not me.has_mfa:
        return redirect(url_for("hub_account.index"))
    if not verify_password(me.password_hash, request.form.get("current_password", "")):
        flash("No new codes: the current password is not right.", "error")
        return _page(401)
    codes = mfa.new_recovery_codes(me, actor=me.email)
    return render_template("hub_recovery_codes.html", codes=codes, next_url=url_for("hub_account.index"))
