"""A clinic's patient register imported at the hub: upserted into the clinic's patients and
published to its boxes (`patient.correct` changes with `register: true`), which apply it
through the pull exactly as if it had been imported on the box."""

from __future__ import annotations

from core.register import ImportReport, compare, read_file

from . import audit
from .changes import publish
from .db import database
from .models import Clinic, Patient, utcnow


def plan(clinic: Clinic, name: str, data: bytes, order: str, mrn_system: str = "") -> ImportReport:
    """What importing the file into `clinic` would change."""
    rows, refused = read_file(name, data, order, mrn_system)
    mrns = [r.mrn for r in rows]
    existing = {p.mrn: p for p in Patient.select().where((Patient.clinic == clinic.id) & Patient.mrn.in_(mrns))}
    return compare(rows, refused, existing)


def apply(clinic: Clinic, report: ImportReport, actor: str, name: str) -> ImportReport:
    """Carry out a planned import in one transaction and tell the clinic's boxes."""
    with database.atomic():
        for row in report.added:
            Patient.create(
                organisation=clinic.organisation_id,
                clinic=clinic,
                mrn=row.mrn,
                last_name=row.last_name,
                first_name=row.first_name,
                dob=row.dob,
            )
        for row, changes in report.updated:
            Patient.update(**changes, updated_at=utcnow()).where(
                (Patient.clinic == clinic.id) & (Patient.mrn == row.mrn)
            ).execute()
        for row in [*report.added, *(r for r, _ in report.updated)]:
            publish(
                clinic.organisation_id,
                clinic.id,
                "patient.correct",
                {
                    "mrn": row.mrn,
                    "last_name": row.last_name,
                    "first_name": row.first_name,
                    "dob": row.dob.isoformat(),
                    "register": True,
                },
            )
        audit.record(
            "patients.import",
            actor=actor,
            organisation=clinic.organisation_id,
            obj=clinic,
            file=name[-100:],
            added=len(report.added),
            updated=len(report.updated),
            unchanged=len(report.unchanged),
            refused=len(report.refused),
        )
    return report
