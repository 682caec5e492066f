"""A clinic's patient register imported from head office's pages: the file is read and the
changes shown first (nothing changes), then applied; the clinic's boxes learn it through the pull."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from core.register import RegisterError

from .. import records, register
from ..models import Clinic
from ..uploads import date_order_for
from .access import actor, hub, organisation_id, roles, visible_clinic_ids

bp = Blueprint("hub_register", __name__)
MAX_REGISTER_BYTES = 50 * 1024 * 1024


def _clinic(clinic_id: int | None) -> Clinic:
    if clinic_id not in visible_clinic_ids():
        abort(404)
    return Clinic.get_by_id(clinic_id)


def _pending(token: str) -> Path | None:
    """The file a preview left waiting, or None when the token names none."""
    if not token.isalnum():
        return None
    path = hub().config.staging_dir / f"register-{token}"
    return path if path.exists() else None


@bp.get("/register")
@roles("org_admin")
def index():
    return render_template(
        "hub_register.html", clinics=records.visible_clinics(organisation_id(), visible_clinic_ids())
    )


@bp.post("/register/preview")
@roles("org_admin")
def preview():
    clinic = _clinic(request.form.get("clinic_id", type=int))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose the register file to import.", "error")
        return redirect(url_for("hub_register.index"))
    data = upload.stream.read(MAX_REGISTER_BYTES + 1)
    if len(data) > MAX_REGISTER_BYTES:
        flash("The file is larger than 50 MB.", "error")
        return redirect(url_for("hub_register.index"))
    try:
        report = register.plan(clinic, upload.filename, data, date_order_for(hub().config, clinic))
    except RegisterError as error:
        flash(f"Not imported: {error}", "error")
        return redirect(url_for("hub_register.index"))
    token = secrets.token_hex(16)
    hub().config.staging_dir.mkdir(parents=True, exist_ok=True)
    (hub().config.staging_dir / f"register-{token}").write_bytes(data)
    return render_template("hub_register_preview.html", report=report, token=token, name=upload.filename, clinic=clinic)


@bp.post("/register/apply")
@roles("org_admin")
def apply_import():
    clinic = _clinic(request.form.get("clinic_id", type=int))
    path, name = _pending(request.form.get("token", "")), request.form.get("name", "register")
    if path is None:
        flash("That preview has expired; choose the file again.", "error")
        return redirect(url_for("hub_register.index"))
    try:
        planned = register.plan(clinic, name, path.read_bytes(), date_order_for(hub().config, clinic))
        report = register.apply(clinic, planned, actor(), name)
    finally:
        path.unlink(missing_ok=True)
    flash(f"Register imported into {clinic.name}: {report.summary()}; its boxes receive it at their next sync.")
    return redirect(url_for("hub_register.index"))
