"""The JSON API for people (head office tools and scripts): patients, documents, storage.

Signed in with POST /api/auth/token; state-changing calls need the X-CSRFToken header from
GET /api/auth/me. Objects outside the caller's organisation or clinics answer 404.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, jsonify, redirect, request, send_file

from core.highlight import mark_hits
from core.web.security import content_disposition

from .. import audit, box_admin, records
from ..search import SearchError, search_documents
from .access import actor, address, hub, organisation_id, roles, visible_clinic_ids

bp = Blueprint("hub_api", __name__, url_prefix="/api/v1")
READERS = ("org_admin", "viewer")


def _patient_json(patient) -> dict:
    return {
        "id": patient.id,
        "clinic_id": patient.clinic_id,
        "mrn": patient.mrn,
        "last_name": patient.last_name,
        "first_name": patient.first_name,
        "dob": patient.dob.isoformat() if patient.dob else None,
    }


def _document_json(document) -> dict:
    return {
        "id": document.id,
        "clinic_id": document.clinic_id,
        "patient_id": document.patient_id,
        "status": document.status,
        "doc_type": document.doc_type,
        "doc_date": document.doc_date.isoformat() if document.doc_date else None,
        "page_count": document.page_count,
        "original_name": document.original_name,
        "sha256": document.blob_sha256,
    }


def _scoped(find, object_id: int):
    try:
        return find(organisation_id(), visible_clinic_ids(), object_id)
    except records.NotFound:
        abort(404)


@bp.get("/patients")
@roles(*READERS)
def patients():
    found = records.find_patients(organisation_id(), visible_clinic_ids(), request.args.get("q", "")[:100])
    return jsonify(patients=[_patient_json(p) for p in found])


@bp.get("/patients/<int:patient_id>")
@roles(*READERS)
def patient(patient_id: int):
    found = _scoped(records.patient, patient_id)
    audit.record("patient.view", actor=actor(), organisation=organisation_id(), obj=found, address=address())
    return jsonify(patient=_patient_json(found), documents=[_document_json(d) for d in records.documents_of(found)])


@bp.patch("/patients/<int:patient_id>")
@roles("org_admin")
def correct_patient(patient_id: int):
    """Correct a patient's name or date of birth; the patient's clinic boxes learn it at their next sync."""
    found = _scoped(records.patient, patient_id)
    data = request.get_json(silent=True) or {}
    try:
        dob = dt.date.fromisoformat(data["dob"]) if data.get("dob") else found.dob
        corrected = box_admin.correct_patient(
            found,
            last_name=str(data.get("last_name", found.last_name)),
            first_name=str(data.get("first_name", found.first_name)),
            dob=dob,
            actor=actor(),
        )
    except (ValueError, box_admin.BoxAdminError) as problem:
        return jsonify(error="bad_request", message=str(problem), retry=False), 400
    return jsonify(patient=_patient_json(corrected))


@bp.get("/documents")
@roles(*READERS)
def documents():
    query = request.args.get("q", "").strip()[:200]
    page = max(1, request.args.get("page", 1, type=int))
    try:
        hits = search_documents(organisation_id(), visible_clinic_ids(), query, limit=20, offset=(page - 1) * 20)
    except SearchError as problem:
        return jsonify(error="bad_query", message=str(problem), retry=False), 400
    audit.record("search", actor=actor(), organisation=organisation_id(), address=address(), results=len(hits))
    return jsonify(
        results=[
            {
                "document_id": h.document_id,
                "page": h.page_number,
                "clinic": h.clinic,
                "doc_type": h.doc_type,
                "snippet": mark_hits(h.snippet, "[", "]"),
                "patient": {"mrn": h.patient_mrn, "name": h.patient_name} if h.patient_mrn else None,
            }
            for h in hits
        ]
    )


@bp.get("/documents/<int:document_id>")
@roles(*READERS)
def document(document_id: int):
    found = _scoped(records.document, document_id)
    audit.record("document.view", actor=actor(), organisation=organisation_id(), obj=found, address=address())
    return jsonify(
        document=_document_json(found), pages=[{"number": p.number, "text": p.text} for p in records.pages_of(found)]
    )


@bp.get("/storage/documents/<int:document_id>/original")
@roles(*READERS)
def original(document_id: int):
    """The original scan: a short-lived presigned S3 URL (302), or streamed from the local volume."""
    found = _scoped(records.document, document_id)
    try:
        blob = records.original_blob(found)
    except records.NotFound:
        abort(404)
    audit.record("document.download", actor=actor(), organisation=organisation_id(), obj=found, address=address())
    storage = hub().storage
    url = storage.download_url(blob.storage_key, found.original_name, seconds=300)
    if url:
        return redirect(url, code=302)
    response = send_file(storage.open(blob.storage_key), mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = content_disposition(found.original_name)
    return response
