"""The trash page: documents and discarded quarantine files, restorable until purged (admins purge)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from .. import trash
from ..models import Quarantine
from .auth import actor, admin_required
from .documents import get_document
from .extensions import client_address

bp = Blueprint("trash", __name__)


def _entry(entry_id: int) -> Quarantine:
    return Quarantine.get_or_none(Quarantine.id == entry_id) or abort(404)


@bp.get("/trash")
def index():
    config = current_app.config["BOX"]
    return render_template(
        "trash.html",
        documents=list(trash.trashed_documents()),
        entries=list(trash.discarded_entries()),
        reasons=trash.REASON_LABELS,
        due=lambda at: trash.purge_due_at(at, config),
        days=config.trash_days,
    )


@bp.post("/documents/<int:document_id>/restore")
def restore_document(document_id: int):
    document = get_document(document_id)
    try:
        restored = trash.restore_document(document, actor(), client_address())
        flash(f"Document {document.id} is back ({restored.status.replace('_', ' ')}).")
    except trash.TrashError as error:
        flash(str(error), "error")
    if request.form.get("next") == "trash":
        return redirect(url_for("trash.index"))
    return redirect(url_for("documents.show", document_id=document.id))


@bp.post("/documents/<int:document_id>/purge")
@admin_required
def purge_document(document_id: int):
    document = get_document(document_id)
    try:
        trash.purge_document(document, current_app.config["BOX"], actor(), client_address())
        flash(f"Document {document.id} was deleted for good.")
    except trash.TrashError as error:
        flash(str(error), "error")
    return redirect(url_for("trash.index"))


@bp.post("/quarantine/<int:entry_id>/restore")
def restore_entry(entry_id: int):
    try:
        trash.restore_entry(_entry(entry_id), actor(), client_address())
        flash("Back in quarantine.")
    except trash.TrashError as error:
        flash(str(error), "error")
    if request.form.get("next") == "trash":
        return redirect(url_for("trash.index"))
    return redirect(url_for("quarantine.index"))


@bp.post("/quarantine/<int:entry_id>/purge")
@admin_required
def purge_entry(entry_id: int):
    try:
        trash.purge_entry(_entry(entry_id), current_app.config["BOX"], actor(), client_address())
        flash("The file was deleted for good.")
    except trash.TrashError as error:
        flash(str(error), "error")
    return redirect(url_for("trash.index"))
