"""Quarantine: the reason, the original, retry, and (admins only, after a confirmation) discard to the trash."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from .. import audit
from ..ingest.intake import store_path
from ..models import Quarantine
from ..quarantine import QuarantineError, discard, open_entries, retry
from .auth import actor, admin_required
from .extensions import client_address
from .stored_files import send_stored

bp = Blueprint("quarantine", __name__)


def get_entry(entry_id: int) -> Quarantine:
    return Quarantine.get_or_none(Quarantine.id == entry_id) or abort(404)


@bp.get("/quarantine")
def index():
    undo = Quarantine.get_or_none(Quarantine.id == request.args.get("undo", type=int))
    return render_template(
        "quarantine.html",
        entries=list(open_entries()),
        undo=undo if undo is not None and undo.resolution == "discarded" else None,
    )


@bp.get("/quarantine/<int:entry_id>/original")
def original(entry_id: int):
    entry = get_entry(entry_id)
    if entry.scan_id is None:
        abort(404)
    path = store_path(current_app.config["BOX"], entry.scan.sha256)
    if not path.exists():
        abort(404)
    audit.record("quarantine.download", actor=actor(), obj=entry, address=client_address())
    return send_stored(
        path,
        "application/octet-stream",
        as_attachment=True,
        download_name=entry.original_name.replace("\n", " ")[-150:],
    )


@bp.post("/quarantine/<int:entry_id>/retry")
def retry_entry(entry_id: int):
    try:
        retry(get_entry(entry_id), actor(), client_address())
        flash("Sent back through the pipeline; it appears on the dashboard while it is processed.")
    except QuarantineError as error:
        flash(str(error), "error")
    return redirect(url_for("quarantine.index"))


@bp.get("/quarantine/<int:entry_id>/discard")
@admin_required
def confirm_discard(entry_id: int):
    entry = get_entry(entry_id)
    if entry.resolved_at is not None:
        flash("This entry was already dealt with.", "error")
        return redirect(url_for("quarantine.index"))
    return render_template("quarantine_discard.html", entry=entry, days=current_app.config["BOX"].trash_days)


@bp.post("/quarantine/<int:entry_id>/discard")
@admin_required
def discard_entry(entry_id: int):
    entry = get_entry(entry_id)
    try:
        discard(entry, actor(), client_address())
    except QuarantineError as error:
        flash(str(error), "error")
        return redirect(url_for("quarantine.index"))
    return redirect(url_for("quarantine.index", undo=entry.id))
