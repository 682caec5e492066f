"""What an org_admin does about another user's sign-in: reset a lost second factor, lift a
lock-out. Both are audited, and reach only users whose clinics the admin holds too."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, url_for

from .. import audit, mfa
from ..models import User
from ..tenancy import clinic_ids_of, may_manage
from .access import actor, address, organisation_id, roles
from .auth import lift_lockout, locked_out

bp = Blueprint("hub_user_security", __name__)
# The users page shows who is locked out without its view having to know about the limiter.
bp.add_app_template_global(locked_out, "locked_out")


def _managed(user_id: int) -> User:
    """A user of the admin's organisation who reaches nothing the admin does not (else 404 / 403)."""
    user = User.get_or_none((User.id == user_id) & (User.organisation == organisation_id()))
    if user is None:
        abort(404)
    if not may_manage(g.signed_in.user, clinic_ids_of(user), user.role):
        abort(403)
    return user


@bp.post("/users/<int:user_id>/mfa/reset")
@roles("org_admin")
def reset_mfa(user_id: int):
    user = _managed(user_id)
    mfa.turn_off(user, actor=actor(), action="mfa.reset")
    flash(f"Two-step sign-in of {user.email} is reset; they set it up again from their Security page.")
    return redirect(url_for("hub_ui.users"))


@bp.post("/users/<int:user_id>/lockout/lift")
@roles("org_admin")
def lift(user_id: int):
    user = _managed(user_id)
    lift_lockout(user.email)
    audit.record("lockout_lifted", actor=actor(), organisation=user.organisation_id, obj=user, address=address())
    flash(f"{user.email} may try to sign in again now.")
    return redirect(url_for("hub_ui.users"))
