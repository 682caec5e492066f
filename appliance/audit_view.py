"""Reading the box's audit log as an admin does: filters by user, action anywhere in its name,
patient (the patient and their documents) and dates."""

from __future__ import annotations

import datetime as dt

import peewee as pw

from core.audit_details import Filters

from .models import AuditEvent, Document, Patient


def patient_named(mrn: str) -> Patient | None:
    return Patient.get_or_none(Patient.mrn == mrn.strip()) if mrn.strip() else None


def _about_patient(patient: Patient) -> pw.Expression:
    """Events about the patient or one of the patient's documents."""
    documents = [
        str(document_id) for document_id in Document.select(Document.id).where(Document.patient == patient).scalars()
    ]
    on_patient = (AuditEvent.object_type == "patient") & (AuditEvent.object_id == str(patient.id))
    if not documents:
        return on_patient
    return on_patient | ((AuditEvent.object_type == "document") & AuditEvent.object_id.in_(documents))


def events(filters: Filters) -> pw.ModelSelect:
    """Events matching every filter given, newest first (an unknown patient matches nothing)."""
    query = AuditEvent.select().order_by(AuditEvent.id.desc())
    if filters.actor:
        query = query.where(AuditEvent.actor == filters.actor.strip())
    if filters.action:
        query = query.where(AuditEvent.action.contains(filters.action.strip()))
    if filters.patient_mrn:
        patient = patient_named(filters.patient_mrn)
        query = query.where(_about_patient(patient)) if patient else query.where(False)
    if filters.start:
        query = query.where(AuditEvent.at >= filters.start)
    if filters.end:
        query = query.where(AuditEvent.at < filters.end + dt.timedelta(days=1))
    return query
