"""Patients and documents as head office sees them, always scoped to an organisation and the
clinics the asking user may see. Anything outside that scope is "not found"."""

from __future__ import annotations

import peewee as pw

from .models import Blob, Clinic, Device, Document, Organisation, Page, Patient


class NotFound(LookupError):
    """No such object in the caller's scope (it may exist elsewhere; callers answer 404)."""


def find_patients(organisation_id: int, clinic_ids: list[int], query: str, limit: int = 50) -> list[Patient]:
    """Patients whose name or MRN starts with `query` (or all, newest first, when empty)."""
    rows = (
        Patient.select(Patient, Clinic)
        .join(Clinic)
        .where((Patient.organisation == organisation_id) & Patient.clinic.in_(clinic_ids))
    )
    query = query.strip()
    if query:
        like = query.lower() + "%"
        rows = rows.where(
            (pw.fn.LOWER(Patient.last_name) ** like)
            | (pw.fn.LOWER(Patient.first_name) ** like)
            | (Patient.mrn ** (query + "%"))
        )
    return list(rows.order_by(Patient.last_name, Patient.first_name).limit(limit))


def patient(organisation_id: int, clinic_ids: list[int], patient_id: int) -> Patient:
    """One patient in scope, or NotFound."""
    found = Patient.get_or_none(
        (Patient.id == patient_id) & (Patient.organisation == organisation_id) & Patient.clinic.in_(clinic_ids)
    )
    if found is None:
        raise NotFound("patient")
    return found


def documents_of(patient_row: Patient) -> list[Document]:
    """A patient's documents, newest first."""
    return list(
        Document.select()
        .where((Document.patient == patient_row) & (Document.status != "trashed"))
        .order_by(Document.doc_date.desc(nulls="LAST"), Document.id.desc())
    )


def same_person(organisation_id: int, clinic_ids: list[int], patient_row: Patient) -> list[Patient]:
    """The patient's records in the clinics in scope: this one, and those of other clinics with the
    same MRN, last name and date of birth (all three, so two people are never taken for one)."""
    if patient_row.dob is None:
        return [patient_row]
    return list(
        Patient.select(Patient, Clinic)
        .join(Clinic)
        .where(
            (Patient.organisation == organisation_id)
            & Patient.clinic.in_(clinic_ids)
            & (Patient.mrn == patient_row.mrn)
            & (pw.fn.LOWER(Patient.last_name) == patient_row.last_name.lower())
            & (Patient.dob == patient_row.dob)
        )
        .order_by(Clinic.name)
    )


def documents_across(organisation_id: int, clinic_ids: list[int], patient_row: Patient) -> list[Document]:
    """A patient's documents across the clinics in scope, newest first (see `same_person`)."""
    records = same_person(organisation_id, clinic_ids, patient_row)
    return list(
        Document.select(Document, Clinic)
        .join(Clinic)
        .where(Document.clinic.in_(clinic_ids) & Document.patient.in_([row.id for row in records]))
        .order_by(Document.doc_date.desc(nulls="LAST"), Document.id.desc())
    )


def document(organisation_id: int, clinic_ids: list[int], document_id: int) -> Document:
    """One document in scope, or NotFound."""
    found = Document.get_or_none(
        (Document.id == document_id) & (Document.organisation == organisation_id) & Document.clinic.in_(clinic_ids)
    )
    if found is None:
        raise NotFound("document")
    return found


def pages_of(document_row: Document) -> list[Page]:
    return list(Page.select().where(Page.document == document_row).order_by(Page.number))


def original_blob(document_row: Document) -> Blob:
    """The stored original of a document (always of the document's own organisation)."""
    blob = Blob.get_or_none(
        (Blob.organisation == document_row.organisation_id) & (Blob.sha256 == document_row.blob_sha256)
    )
    if blob is None:
        raise NotFound("original")
    return blob


def visible_clinics(organisation_id: int, clinic_ids: list[int]) -> list[Clinic]:
    """The clinics of the organisation the user may see, by name."""
    return list(
        Clinic.select()
        .where((Clinic.organisation == organisation_id) & Clinic.id.in_(clinic_ids))
        .order_by(Clinic.name)
    )


def clinic_overview(organisation_id: int, clinic_ids: list[int]) -> list[dict]:
    """Per clinic: its devices (sync state, backlog, bytes, quarantine), how many documents and pages
    it has, how many of them wait for review, and how many files its boxes hold in quarantine (as
    they last reported; None when no box has reported it yet)."""
    clinics = visible_clinics(organisation_id, clinic_ids)
    documents = dict(
        Document.select(Document.clinic, pw.fn.COUNT(Document.id))
        .where(Document.clinic.in_(clinic_ids) & (Document.status != "trashed"))
        .group_by(Document.clinic)
        .tuples()
    )
    review = dict(
        Document.select(Document.clinic, pw.fn.COUNT(Document.id))
        .where(Document.clinic.in_(clinic_ids) & (Document.status == "needs_review"))
        .group_by(Document.clinic)
        .tuples()
    )
    pages = dict(
        Page.select(Document.clinic, pw.fn.COUNT(Page.id))
        .join(Document)
        .where(Document.clinic.in_(clinic_ids) & (Document.status != "trashed"))
        .group_by(Document.clinic)
        .tuples()
    )
    devices: dict[int, list[Device]] = {}
    for device in Device.select().where(Device.clinic.in_(clinic_ids)).order_by(Device.name):
        devices.setdefault(device.clinic_id, []).append(device)
    return [
        {
            "clinic": clinic,
            "devices": devices.get(clinic.id, []),
            "documents": documents.get(clinic.id, 0),
            "pages": pages.get(clinic.id, 0),
            "review": review.get(clinic.id, 0),
            "quarantine": _quarantined(devices.get(clinic.id, [])),
        }
        for clinic in clinics
    ]


def _quarantined(devices: list[Device]) -> int | None:
    reported = [d.reported_quarantine for d in devices if d.revoked_at is None and d.reported_quarantine is not None]
    return sum(reported) if reported else None


def organisation(organisation_id: int) -> Organisation:
    return Organisation.get_by_id(organisation_id)
