"""What head office changes for the boxes: patient corrections, the users allowed to sign in at a
clinic's box (so staff can sign in offline), and box settings. Each change is recorded at the hub
and published on the clinic's change feed (`changes.publish`), which the boxes pull."""

from __future__ import annotations

import datetime as dt

from . import audit, tenancy
from .changes import publish
from .db import database
from .models import Clinic, Patient, utcnow

BOX_ROLES = ("staff", "admin")
SETTINGS = ("sync_blob_window", "sync_bandwidth_bytes", "retention_days")


class BoxAdminError(ValueError):
    """A change for the boxes is not acceptable as asked."""


def correct_patient(patient: Patient, *, last_name: str, first_name: str, dob: dt.date | None, actor: str) -> Patient:
    """Correct a patient's name or date of birth at the hub and tell the patient's clinic."""
    if not last_name.strip() or not first_name.strip():
        raise BoxAdminError("last name and first name are required")
    before = {
        "last_name": patient.last_name,
        "first_name": patient.first_name,
        "dob": patient.dob.isoformat() if patient.dob else None,
    }
    after = {"last_name": last_name.strip(), "first_name": first_name.strip(), "dob": dob.isoformat() if dob else None}
    with database.atomic():
        Patient.update(
            last_name=after["last_name"], first_name=after["first_name"], dob=dob, updated_at=utcnow()
        ).where(Patient.id == patient.id).execute()
        publish(
            patient.organisation_id,
            patient.clinic_id,
            "patient.correct",
            {"mrn": patient.mrn, **after, "previous": before},
        )
        audit.record("patient.correct", actor=actor, organisation=patient.organisation_id, obj=patient)
    return Patient.get_by_id(patient.id)


def allow_box_user(clinic: Clinic, username: str, password: str | None, role: str, active: bool, actor: str) -> None:
    """Let `username` sign in at the clinic's boxes (or stop them, with active=False)."""
    username = username.strip().lower()
    if not username or role not in BOX_ROLES:
        raise BoxAdminError(f"a box user needs a name and a role of {', '.join(BOX_ROLES)}")
    if active and not password:
        raise BoxAdminError("a box user who may sign in needs a password")
    payload = {"username": username, "role": role, "active": active}
    if password:
        try:
            tenancy.check_password(password, username)
        except tenancy.TenancyError as problem:
            raise BoxAdminError(str(problem)) from None
        payload["password_hash"] = tenancy.hash_password(password)
    with database.atomic():
        publish(clinic.organisation_id, clinic.id, "user.allow", payload)
        audit.record(
            "box_user.allow" if active else "box_user.disable",
            actor=actor,
            organisation=clinic.organisation_id,
            obj=clinic,
            username=username,
            role=role,
        )


def set_box_settings(clinic: Clinic, settings: dict, actor: str) -> None:
    """Send sync window, bandwidth cap or retention to the clinic's boxes."""
    unknown = set(settings) - set(SETTINGS)
    if unknown or not settings:
        raise BoxAdminError(f"box settings are {', '.join(SETTINGS)}")
    with database.atomic():
        publish(clinic.organisation_id, clinic.id, "settings", settings)
        audit.record("box_settings", actor=actor, organisation=clinic.organisation_id, obj=clinic, **settings)
