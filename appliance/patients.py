"""Finding and creating patients."""

from __future__ import annotations

import datetime as dt
import operator
from functools import reduce

from core.ingest.dates import parse_date
from core.ingest.extract import normalise_mrn

from . import audit, outbox
from .db import database
from .models import Document, Patient


class PatientError(ValueError):
    """A patient cannot be created as asked."""


def find_patients(query: str, date_order: str, limit: int = 50) -> list[Patient]:
    """Patients whose MRN, name or date of birth matches `query` (a date matches the DOB exactly)."""
    query = query.strip()
    base = Patient.select().order_by(Patient.last_name, Patient.first_name).limit(limit)
    if not query:
        return list(base)
    found = parse_date(query, date_order)
    if found is not None and found.end - found.start >= len(query) - 1:
        return list(base.where(Patient.dob == found.value))
    words = query.replace(",", " ").split()
    name_match = [Patient.last_name.startswith(w) | Patient.first_name.startswith(w) for w in words]
    condition = reduce(operator.and_, name_match)
    if len(words) == 1:
        condition |= Patient.mrn.startswith(normalise_mrn(query))
    return list(base.where(condition))


def create_patient(mrn: str, last_name: str, first_name: str, dob: dt.date, actor: str) -> Patient:
    """A new patient; the MRN must be new."""
    mrn = normalise_mrn(mrn)
    if not mrn or not last_name.strip() or not first_name.strip():
        raise PatientError("MRN, last name and first name are all required")
    with database.atomic():
        if Patient.select().where(Patient.mrn == mrn).exists():
            raise PatientError(f"a patient with MRN {mrn} already exists")
        patient = Patient.create(mrn=mrn, last_name=last_name.strip(), first_name=first_name.strip(), dob=dob)
        audit.record("patient.create", actor=actor, obj=patient, source="web")
        outbox.patient_changed(patient)
    return patient


def patient_documents(patient: Patient):
    """The patient's documents, newest first: the timeline."""
    return (
        Document.select()
        .where((Document.patient == patient.id) & (Document.status != "trashed"))
        .order_by(Document.doc_date.desc(nulls="LAST"), Document.created_at.desc())
    )
