"""User administration (admins only): add, disable or enable, reset a password, reset a lost second
factor, lift a sign-in lock-out."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from .. import audit, mfa
from ..models import User
from ..users import UserError, create_user, reset_password, set_active
from .auth import actor, admin_required, lift_lockout, locked_out
from .extensions import client_address

bp = Blueprint("admin_users", __name__)


def get_user(user_id: int) -> User:
    return User.get_or_none(User.id == user_id) or abort(404)


@bp.get("/admin/users")
@admin_required
def index():
    users = list(User.select().order_by(User.username))
    locked = {user.id for user in users if locked_out(user.username)}
    return render_template("users.html", users=users, roles=User.ROLES, locked=locked)


@bp.post("/admin/users")
@admin_required
def add():
    try:
        user = create_user(
            request.form.get("username", "").strip(),
            request.form.get("password", ""),
            request.form.get("role", "staff"),
            actor=actor(),
        )
        flash(f"User {user.username} added.")
    except UserError as error:
        flash(f"Not added: {error}", "error")
    return redirect(url_for("admin_users.index"))


@bp.post("/admin/users/<int:user_id>/active")
@admin_required
def toggle(user_id: int):
    user = get_user(user_id)
    active = request.form.get("active") == "1"
    if not active and user.username == actor():
        flash("You cannot disable your own account.", "error")
        return redirect(url_for("admin_users.index"))
    set_active(user, active, actor())
    flash(f"User {user.username} {'enabled' if active else 'disabled; their sessions have ended'}.")
    return redirect(url_for("admin_users.index"))


@bp.post("/admin/users/<int:user_id>/password")
@admin_required
def password(user_id: int):
    user = get_user(user_id)
    try:
        reset_password(user, request.form.get("password", ""), actor())
        flash(f"Password of {user.username} changed; their sessions have ended.")
    except UserError as error:
        flash(f"Not changed: {error}", "error")
    return redirect(url_for("admin_users.index"))


@bp.post("/admin/users/<int:user_id>/mfa/reset")
@admin_required
def reset_mfa(user_id: int):
    user = get_user(user_id)
    mfa.turn_off(user, actor=actor(), action="mfa.reset")
    flash(f"Two-step sign-in of {user.username} is reset; they sign in with their password and set it up again.")
    return redirect(url_for("admin_users.index"))


@bp.post("/admin/users/<int:user_id>/lockout/lift")
@admin_required
def lift(user_id: int):
    user = get_user(user_id)
    lift_lockout(user.username)
    audit.record("auth.lockout_lifted", actor=actor(), obj=user, address=client_address())
    flash(f"{user.username} may try to sign in again now.")
    return redirect(url_for("admin_users.index"))
