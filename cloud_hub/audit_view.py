"""Reading an organisation's audit log at the hub: filters by user, action anywhere in its name,
patient (head office's own events about the patient's documents) and dates; links; details in words."""

from __future__ import annotations

import datetime as dt
import json

import peewee as pw

from core.audit_details import Filters, detail_lines

from .audit import shown_detail
from .models import AuditEvent, Document, Patient


def patients_named(organisation_id: int, mrn: str) -> list[Patient]:
    """The organisation's patients with this MRN (one a clinic)."""
    if not mrn.strip():
        return []
    return list(Patient.select().where((Patient.organisation == organisation_id) & (Patient.mrn == mrn.strip())))


def _about(patients: list[Patient]) -> pw.Expression:
    """Head office's events about these patients' documents (a box's events carry the box's own
    ids, which the hub's do not match)."""
    documents = Document.select(Document.id).where(Document.patient.in_([patient.id for patient in patients]))
    ids = [str(document_id) for document_id in documents.scalars()]
    return AuditEvent.device.is_null() & (AuditEvent.object_type == "document") & AuditEvent.object_id.in_(ids or [""])


def events(organisation_id: int, filters: Filters) -> pw.ModelSelect:
    """The organisation's events matching every filter given, newest first."""
    rows = AuditEvent.select().where(AuditEvent.organisation == organisation_id)
    if filters.actor.strip():
        rows = rows.where(AuditEvent.actor == filters.actor.strip())
    if filters.action.strip():
        rows = rows.where(AuditEvent.action.contains(filters.action.strip()))
    if filters.patient_mrn.strip():
        rows = rows.where(_about(patients_named(organisation_id, filters.patient_mrn)))
    if filters.start:
        rows = rows.where(AuditEvent.at >= filters.start)
    if filters.end:
        rows = rows.where(AuditEvent.at < filters.end + dt.timedelta(days=1))
    return rows.order_by(AuditEvent.id.desc())


def readable_detail(detail: str | None) -> list[tuple[str, str]]:
    """An event's detail (patient data withheld, as on every audit page) as (what, value) pairs."""
    shown = shown_detail(detail)
    if not shown:
        return []
    try:
        values = json.loads(shown)
    except ValueError:
        return [("detail", shown)]
    return detail_lines(values) if isinstance(values, dict) else [("detail", shown)]
