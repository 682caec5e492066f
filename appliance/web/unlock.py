"""The unlock page: while no Clevis pin has answered, the recovery passphrase opens the box.

There is no user table to check while locked (it is inside the encrypted database): the
passphrase itself is the authority. Attempts are limited per address and overall, and only one
Argon2id derivation runs at a time in a web process (each costs 64 MiB).
"""

from __future__ import annotations

import logging
import threading

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from .. import audit
from ..key_sealing import WrongPassphrase
from ..unlock import unlock_with_passphrase
from .extensions import client_address, unlock_limiter
from .locked import open_unlocked

bp = Blueprint("unlock", __name__)
log = logging.getLogger(__name__)
_deriving = threading.Lock()


class UnlockForm(FlaskForm):
    passphrase = PasswordField("Recovery passphrase", validators=[DataRequired(), Length(max=200)])


def _refused(response) -> bool:
    return response.status_code != 302


@bp.route("/unlock", methods=["GET", "POST"])
@unlock_limiter.limit("5 per minute; 30 per hour", methods=["POST"], deduct_when=_refused)
@unlock_limiter.limit("60 per hour", methods=["POST"], key_func=lambda: "any", deduct_when=_refused)
def index():
    """Show the form while locked; on the right passphrase unlock every process of the box."""
    if not current_app.config["BOX_LOCKED"]:
        return redirect(url_for("dashboard.index"))
    form = UnlockForm()
    if not form.validate_on_submit():
        return render_template("unlock.html", form=form), 400 if form.is_submitted() else 200
    if not _deriving.acquire(blocking=False):
        return render_template("unlock.html", form=form, error="Another unlock attempt is running; try again."), 429
    try:
        key = unlock_with_passphrase(current_app.config["BOX"], form.passphrase.data)
    except WrongPassphrase:
        log.warning("unlock refused: wrong recovery passphrase from the web page")
        return render_template("unlock.html", form=form, error="That passphrase does not open this box."), 401
    finally:
        _deriving.release()
    open_unlocked(current_app._get_current_object(), key)  # type: ignore[attr-defined]
    audit.record("box.unlock", actor="recovery passphrase", address=client_address(), method="passphrase")
    flash("The box is unlocked. Sign in to continue.")
    return redirect(url_for("auth.login"))
