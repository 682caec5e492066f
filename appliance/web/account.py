"""Each user's own Security page: change the password, set up or turn off two-step sign-in, renew
the recovery codes. Every form that checks the current password or a code counts against the
account's sign-in budget."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import mfa
from ..models import User
from ..users import UserError, change_own_password, verify_password
from .auth import CodeForm, per_account, refused, secret_key, signed_in_account_key

bp = Blueprint("account", __name__)


def _me() -> User:
    return User.get_by_id(current_user.user.id)


def _page(status: int = 200):
    me = _me()
    return render_template(
        "account.html",
        me=me,
        codes_left=mfa.recovery_codes_left(me) if me.has_mfa else 0,
        required=mfa.required_for(me, current_app.config["BOX"]),
    ), status


@bp.get("/account")
def index():
    return _page()


@bp.post("/account/password")
@per_account(signed_in_account_key, refused)
def password():
    if request.form.get("new_password") != request.form.get("repeat_password"):
        flash("Not changed: the two new passwords differ.", "error")
        return _page(400)
    try:
        current, new = request.form.get("current_password", ""), request.form.get("new_password", "")
        change_own_password(_me(), current, new, current_user.session.id)
    except UserError as error:
        flash(f"Not changed: {error}.", "error")
        return _page(401 if "current password" in str(error) else 400)
    flash("Password changed; your other sessions have ended.")
    return redirect(url_for("account.index"))


@bp.route("/account/mfa/setup", methods=["GET", "POST"])
@per_account(signed_in_account_key, refused)
def setup():
    me, form, status = _me(), CodeForm(), 200
    if form.validate_on_submit():
        codes = mfa.confirm_setup(me, form.code.data, secret_key(), actor=me.username)
        if codes:
            return render_template("recovery_codes.html", codes=codes, next_url=url_for("account.index"))
        flash("That code is not right. Type the 6 digits the app shows now.", "error")
        status = 401
    secret, qr = mfa.setup_secret(me, secret_key())
    return render_template(
        "mfa_setup.html", form=form, secret=secret, qr=qr, action=url_for("account.setup"), at_sign_in=False
    ), status


@bp.post("/account/mfa/off")
@per_account(signed_in_account_key, refused)
def turn_off():
    me = _me()
    if mfa.required_for(me, current_app.config["BOX"]):
        flash("Admins of this box must keep two-step sign-in.", "error")
        return _page(403)
    if not verify_password(me, request.form.get("current_password", "")):
        flash("Not turned off: the current password is not right.", "error")
        return _page(401)
    mfa.turn_off(me, actor=me.username)
    flash("Two-step sign-in is off.")
    return redirect(url_for("account.index"))


@bp.post("/account/mfa/recovery-codes")
@per_account(signed_in_account_key, refused)
def recovery_codes():
    me = _me()
    if not me.has_mfa:
        return redirect(url_for("account.index"))
    if not verify_password(me, request.form.get("current_password", "")):
        flash("No new codes: the current password is not right.", "error")
        return _page(401)
    return render_template(
        "recovery_codes.html", codes=mfa.new_recovery_codes(me, actor=me.username), next_url=url_for("account.index")
    )
