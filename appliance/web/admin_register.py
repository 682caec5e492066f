"""The patient register and the document types on the box's admin pages.

Importing a register takes two steps: the file is read and the changes shown (nothing changes
yet), then applied. The file waits in the box's own temporary folder between the two steps.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for

from core.register import RegisterError

from .. import at_rest, audit, box_settings
from ..doc_types import DocTypeError, format_rules, parse_rules, save_rules, type_rules
from ..models import Patient
from ..register import apply, export_csv, import_register
from .auth import actor, admin_required
from .extensions import client_address

bp = Blueprint("admin_register", __name__)
MAX_REGISTER_BYTES = 50 * 1024 * 1024


def _pending(token: str) -> Path | None:
    """The file a preview left waiting, or None when the token names none."""
    if not token.isalnum():
        return None
    path = current_app.config["BOX"].tmp_dir / f"register-{token}"
    return path if path.exists() else None


@bp.get("/admin/register")
@admin_required
def index():
    return render_template(
        "register.html",
        patients=Patient.select().count(),
        from_register=Patient.select().where(Patient.source == "register").count(),
        imported_at=box_settings.get(box_settings.REGISTER_IMPORTED_AT),
        policy=current_app.config["BOX"].new_patients,
    )


@bp.post("/admin/register/preview")
@admin_required
def preview():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose the register file to import.", "error")
        return redirect(url_for("admin_register.index"))
    data = upload.stream.read(MAX_REGISTER_BYTES + 1)
    if len(data) > MAX_REGISTER_BYTES:
        flash("The file is larger than 50 MB.", "error")
        return redirect(url_for("admin_register.index"))
    config = current_app.config["BOX"]
    try:
        report = import_register(upload.filename, data, config.date_order, config.mrn_system, actor(), dry_run=True)
    except RegisterError as error:
        flash(f"Not imported: {error}", "error")
        return redirect(url_for("admin_register.index"))
    token = secrets.token_hex(16)
    at_rest.sealing().write(config.tmp_dir / f"register-{token}", data)
    return render_template("register_preview.html", report=report, token=token, name=upload.filename)


@bp.post("/admin/register/apply")
@admin_required
def apply_import():
    token = request.form.get("token", "")
    path, name = _pending(token), request.form.get("name", "register")
    if path is None:
        flash("That preview has expired; choose the file again.", "error")
        return redirect(url_for("admin_register.index"))
    config = current_app.config["BOX"]
    try:
        planned = import_register(
            name, at_rest.sealing().read(path), config.date_order, config.mrn_system, actor(), dry_run=True
        )
        report = apply(planned, actor(), name)
    finally:
        path.unlink(missing_ok=True)
    flash(f"Register imported: {report.summary()}.")
    return redirect(url_for("admin_register.index"))


@bp.get("/admin/register.csv")
@admin_required
def export():
    audit.record("patients.export", actor=actor(), address=client_address())
    return Response(
        export_csv(), mimetype="text/csv", headers={"Content-Disposition": 'attachment; filename="patients.csv"'}
    )


@bp.route("/admin/doc-types", methods=["GET", "POST"])
@admin_required
def doc_types():
    config = current_app.config["BOX"]
    text = format_rules(type_rules(config))
    if request.method == "POST":
        text = request.form.get("rules", "")
        try:
            save_rules(parse_rules(text), actor())
        except DocTypeError as error:
            flash(f"Not saved: {error}", "error")
        else:
            flash("Document types saved; new scans are typed with them.")
            return redirect(url_for("admin_register.doc_types"))
    return render_template("doc_types.html", rules=text)
