"""The patient register on the box: the clinic's patient list upserted by MRN (`core.register`
reads the file). The import never deletes and running it twice changes nothing the second time;
every change is audited and goes through the outbox to the hub. Once a register is on the box,
documents no longer create patients (APPLIANCE_NEW_PATIENTS=auto).
"""

from __future__ import annotations

import csv
import io

from core.clock import utcnow
from core.register import CSV_COLUMNS, ImportReport, Row, compare, read_file

from . import audit, box_settings, outbox
from .db import database
from .models import Patient


def plan(rows: list[Row], refused: list[tuple[int, str]]) -> ImportReport:
    """What importing `rows` would change, compared with the box's patients now."""
    existing = {p.mrn: p for p in Patient.select().where(Patient.mrn.in_([r.mrn for r in rows]))}
    return compare(rows, refused, existing)


def apply(report: ImportReport, actor: str, file_name: str) -> ImportReport:
    """Carry out a planned import in one transaction: audited, queued for the hub."""
    with database.atomic():
        for row in report.added:
            patient = Patient.create(
                mrn=row.mrn, last_name=row.last_name, first_name=row.first_name, dob=row.dob, source="register"
            )
            outbox.patient_changed(patient)
        for row, changes in report.updated:
            Patient.update(**changes, updated_at=utcnow()).where(Patient.mrn == row.mrn).execute()
            outbox.patient_changed(Patient.get(Patient.mrn == row.mrn))
        box_settings.put(box_settings.REGISTER_IMPORTED_AT, utcnow().isoformat(timespec="seconds"))
        # Counts only: the register is patient data and stays out of the audit trail.
        audit.record(
            "patients.import",
            actor=actor,
            file=file_name[-100:],
            added=len(report.added),
            updated=len(report.updated),
            unchanged=len(report.unchanged),
            refused=len(report.refused),
        )
    return report


def import_register(
    name: str, data: bytes, order: str, mrn_system: str, actor: str, dry_run: bool = False
) -> ImportReport:
    """Read a register file and upsert it by MRN (or only report what would change)."""
    rows, refused = read_file(name, data, order, mrn_system)
    report = plan(rows, refused)
    return report if dry_run else apply(report, actor, name)


def export_csv() -> str:
    """Every patient on the box, in the import's CSV format."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for patient in Patient.select().order_by(Patient.mrn):
        writer.writerow([patient.mrn, patient.last_name, patient.first_name, patient.dob.isoformat()])
    return out.getvalue()
