"""Patients: list with fast search, a patient's timeline, and the search-as-you-type API."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, render_template, request

from .. import audit, bulk
from ..annotations import tags_by_document
from ..doc_types import type_names
from ..documents import document_pages
from ..models import Patient
from ..patients import find_patients, patient_documents
from ..pdf_export import PURPOSES
from .auth import actor
from .extensions import client_address

bp = Blueprint("patients", __name__)


@bp.get("/patients")
def index():
    query = request.args.get("q", "").strip()[:100]
    patients = find_patients(query, current_app.config["BOX"].date_order, limit=100)
    return render_template("patients.html", patients=patients, query=query)


@bp.get("/patients/<int:patient_id>")
def show(patient_id: int):
    patient = Patient.get_or_none(Patient.id == patient_id) or abort(404)
    audit.record("patient.view", actor=actor(), obj=patient, address=client_address())
    documents = list(patient_documents(patient))
    first_pages = {d.id: pages[0] for d in documents if (pages := document_pages(d))}
    return render_template(
        "patient.html",
        patient=patient,
        documents=documents,
        first_pages=first_pages,
        tags=tags_by_document(d.id for d in documents),
        doc_types=type_names(current_app.config["BOX"]),
        bulk_actions=list(bulk.ACTIONS),
        purposes=PURPOSES,
    )


@bp.get("/api/patients")
def lookup():
    """Search-as-you-type for the review queue."""
    query = request.args.get("q", "").strip()[:100]
    if len(query) < 2:
        return jsonify(patients=[])
    found = find_patients(query, current_app.config["BOX"].date_order, limit=10)
    return jsonify(patients=[{"id": p.id, **p.as_dict()} for p in found])
