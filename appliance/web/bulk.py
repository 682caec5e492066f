"""Bulk actions from a list (a patient's documents, search results): one POST for many documents."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for

from core.web.security import safe_next

from .. import bulk
from ..doc_types import type_names
from ..models import Patient
from .auth import actor
from .extensions import client_address

bp = Blueprint("bulk", __name__)


def _options(action: str) -> dict:
    types = type_names(current_app.config["BOX"])
    if action == "set_type":
        doc_type = request.form.get("doc_type", "")
        if doc_type not in types:
            raise bulk.BulkError("choose a document type")
        return {"doc_type": doc_type, "types": types}
    if action == "set_patient":
        patient_id = request.form.get("patient_id", type=int)
        patient = Patient.get_or_none(Patient.id == patient_id) if patient_id else None
        if patient is None:
            raise bulk.BulkError("choose a patient from the list")
        return {"patient": patient, "types": types}
    return {}


@bp.post("/documents/bulk")
def apply():
    back = safe_next(request.form.get("next"), url_for("search.index"))
    action = request.form.get("action", "")
    if action not in bulk.ACTIONS:
        abort(400)
    ids = [int(value) for value in request.form.getlist("document_id") if value.isdigit()]
    try:
        done = bulk.apply(action, ids, actor=actor(), address=client_address(), **_options(action))
    except bulk.BulkError as error:
        flash(f"Nothing changed: {error}.", "error")
    else:
        flash(f"{done} document(s) updated.")
    return redirect(back)
