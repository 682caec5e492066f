"""The review queue: documents the box would not file alone, and the staff decisions on them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..documents import DocumentError, assign, merge, split
from ..models import Document, Page, Patient
from ..patients import PatientError, create_patient
from .auth import actor
from .documents import get_document, parse_iso_date
from .extensions import client_address

bp = Blueprint("review", __name__)


@bp.get("/review")
def index():
    documents = Document.select().where(Document.status == "needs_review").order_by(Document.created_at)
    return render_template("review.html", documents=list(documents))


def _back(document_id: int):
    return redirect(url_for("documents.show", document_id=document_id))


@bp.post("/documents/<int:document_id>/assign")
def assign_patient(document_id: int):
    document = get_document(document_id)
    patient = Patient.get_or_none(Patient.id == request.form.get("patient_id", type=int))
    if patient is None:
        flash("Choose a patient from the list first.", "error")
        return _back(document.id)
    assign(document, patient, actor(), client_address())
    flash(f"Filed under {patient.display_name} (MRN {patient.mrn}).")
    return redirect(url_for("review.index"))


@bp.post("/documents/<int:document_id>/create-patient")
def create_and_assign(document_id: int):
    document = get_document(document_id)
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
    except (ValueError, PatientError) as error:
        flash(f"Patient not created: {error}", "error")
        return _back(document.id)
    assign(document, patient, actor(), client_address())
    flash(f"Created {patient.display_name} (MRN {patient.mrn}) and filed the document.")
    return redirect(url_for("review.index"))


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
