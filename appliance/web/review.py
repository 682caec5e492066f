"""The review queue: documents the box would not file alone, and the staff decisions on them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from .. import review
from ..documents import DocumentError, assign, merge, split
from ..models import Document, Page, Patient
from ..patients import PatientError, create_patient
from ..trash import TrashError, trash_document
from .auth import actor
from .documents import get_document, parse_iso_date, trashed_for_undo
from .extensions import client_address

bp = Blueprint("review", __name__)


@bp.get("/review")
def index():
    return render_template("review.html", documents=list(review.queue()), undo=trashed_for_undo())


def _back(document_id: int):
    return redirect(url_for("documents.show", document_id=document_id))


def _onwards(document: Document, **args):
    """After a decision: the next document waiting for review, or the list when none is left."""
    next_id = review.next_after(document)
    if next_id is None:
        return redirect(url_for("review.index", **args))
    return redirect(url_for("documents.show", document_id=next_id, **args))


@bp.post("/documents/<int:document_id>/assign")
def assign_patient(document_id: int):
    document = get_document(document_id)
    patient = Patient.get_or_none(Patient.id == request.form.get("patient_id", type=int))
    if patient is None:
        flash("Choose a patient from the list first.", "error")
        return _back(document.id)
    try:
        assign(document, patient, actor(), client_address())
    except DocumentError as error:
        flash(str(error), "error")
        return _back(document.id)
    flash(f"Filed under {patient.display_name} (MRN {patient.mrn}).")
    return _onwards(document)


@bp.post("/documents/<int:document_id>/create-patient")
def create_and_assign(document_id: int):
    document = get_document(document_id)
    if document.status == "trashed":
        flash("The document is in the trash; restore it first.", "error")
        return _back(document.id)
    try:
        dob = parse_iso_date(request.form.get("dob"))
        if dob is None:
            raise ValueError("date of birth is required")
        patient = create_patient(
            request.form.get("mrn", ""),
            request.form.get("last_name", ""),
            request.form.get("first_name", ""),
            dob,
            actor(),
        )
        assign(document, patient, actor(), client_address())
    except (ValueError, PatientError, DocumentError) as error:
        flash(f"Patient not created: {error}", "error")
        return _back(document.id)
    flash(f"Created {patient.display_name} (MRN {patient.mrn}) and filed the document.")
    return _onwards(document)


@bp.post("/documents/<int:document_id>/trash")
def trash(document_id: int):
    document = get_document(document_id)
    try:
        trash_document(document, request.form.get("reason", ""), actor(), client_address())
    except TrashError as error:
        flash(str(error), "error")
        return _back(document.id)
    if document.status == "needs_review":
        return _onwards(document, undo=document.id)
    return redirect(url_for("documents.show", document_id=document.id))


@bp.post("/documents/<int:document_id>/split")
def split_document(document_id: int):
    document = get_document(document_id)
    page = Page.get_or_none((Page.id == request.form.get("page_id", type=int)) & (Page.document == document.id))
    if page is None:
        abort(404)
    try:
        new = split(document, page, actor(), client_address())
    except DocumentError as error:
        flash(str(error), "error")
        return _back(document.id)
    flash(f"Split: pages from page {page.number} on are now document {new.id}.")
    return _back(document.id)


@bp.post("/documents/<int:document_id>/merge")
def merge_document(document_id: int):
    document = get_document(document_id)
    other = Document.get_or_none(Document.id == request.form.get("other_id", type=int))
    if other is None:
        flash("There is no document with that number.", "error")
        return _back(document.id)
    try:
        merge(document, other, actor(), client_address())
    except DocumentError as error:
        flash(str(error), "error")
        return _back(document.id)
    flash(f"Document {other.id} was merged into this one.")
    return _back(document.id)
