"""The pull direction: head office's changes from the hub's cursor feed, applied on the box.

Each change is applied in one SQLite transaction together with the new cursor, so a change is
applied exactly once even if the agent dies halfway. Conflict policy: a local edit the hub has
not acknowledged yet is never overwritten; the head-office version is kept as a conflict for
a person to decide (box dashboard), and the local version stays in force until then.

- `patient.correct`: name and date of birth of a patient (by MRN), created when missing; with
  `register: true` it comes from the clinic's register imported at the hub, which the box then
  treats as its own register (documents no longer create patients);
- `user.allow`: a member of staff who may sign in at this box (password hash and role), or
  no longer may (`active: false`); a local account of the same name is never taken over;
- `settings`: sync window, bandwidth cap and retention for this box;
- `document.add`: a document uploaded at the hub for this clinic (`hub_documents`), its
  original fetched from the hub when first needed.
"""

from __future__ import annotations

import datetime as dt

from appliance import audit, box_settings
from appliance.db import database
from appliance.models import Outbox, Patient, SyncConflict, User, WebSession, utcnow

from . import state
from .client import HubClient
from .hub_documents import apply_hub_document

PAGE = 100
SETTINGS = {"sync_blob_window": str, "sync_bandwidth_bytes": int, "retention_days": int}


def _local_edit_pending(kind: str, key: str) -> bool:
    return (
        Outbox.select()
        .where(
            (Outbox.kind == kind)
            & (Outbox.object_key == key)
            & Outbox.synced_at.is_null()
            & Outbox.set_aside_at.is_null()
        )
        .exists()
    )


def _patient_json(patient: Patient) -> dict:
    return {
        "mrn": patient.mrn,
        "last_name": patient.last_name,
        "first_name": patient.first_name,
        "dob": patient.dob.isoformat() if patient.dob else None,
    }


def apply_patient_correction(payload: dict) -> str:
    fields = {
        "last_name": payload["last_name"],
        "first_name": payload["first_name"],
        "dob": dt.date.fromisoformat(payload["dob"]) if payload.get("dob") else None,
    }
    patient = Patient.get_or_none(Patient.mrn == payload["mrn"])
    if payload.get("register"):
        box_settings.put(box_settings.REGISTER_IMPORTED_AT, utcnow().isoformat(timespec="seconds"))
    if patient is None:
        Patient.create(mrn=payload["mrn"], **fields, source="register" if payload.get("register") else "hub")
        return "created"
    if _local_edit_pending("patient", str(patient.id)):
        SyncConflict.create(
            kind="patient.correct", object_key=payload["mrn"], hub_version=payload, box_version=_patient_json(patient)
        )
        return "conflict"
    Patient.update(updated_at=utcnow(), **fields).where(Patient.id == patient.id).execute()
    audit.record("patient.correct", actor="head office", obj=patient, source="hub")
    return "applied"


def apply_user(payload: dict) -> str:
    username = payload["username"]
    managed = state.hub_user(username)
    user = User.get_or_none(User.username == username)
    if user is not None and state.get(managed) is None:
        SyncConflict.create(
            kind="user.allow",
            object_key=username,
            hub_version={**payload, "password_hash": "(kept)"},
            box_version={"username": username, "role": user.role, "active": user.active},
        )
        return "conflict"
    if user is None:
        if not payload.get("active") or not payload.get("password_hash"):
            return "ignored"
        user = User.create(username=username, password_hash=payload["password_hash"], role=payload["role"], active=True)
        state.put(managed, True)
        audit.record("user.create", actor="head office", obj=user, source="hub")
        return "applied"
    changes = {"role": payload["role"], "active": bool(payload.get("active"))}
    if payload.get("password_hash"):
        changes["password_hash"] = payload["password_hash"]
    User.update(**changes).where(User.id == user.id).execute()
    if not changes["active"] or "password_hash" in changes:
        WebSession.update(ended_at=utcnow(), end_reason="changed by head office").where(
            (WebSession.user == user) & WebSession.ended_at.is_null()
        ).execute()
    audit.record("user.update", actor="head office", obj=user, source="hub", active=changes["active"])
    return "applied"


def apply_settings(payload: dict) -> str:
    for name, kind in SETTINGS.items():
        if name in payload:
            state.put(state.setting(name, kind), kind(payload[name]))
    return "applied"


HANDLERS = {
    "patient.correct": apply_patient_correction,
    "user.allow": apply_user,
    "settings": apply_settings,
    "document.add": apply_hub_document,
}


def pull(client: HubClient) -> int:
    """Apply every change after the stored cursor; how many were applied."""
    applied = 0
    while True:
        after = state.get(state.CURSOR, 0)
        page = client.request("GET", f"/api/v1/sync/changes?after={after}&limit={PAGE}")
        for change in page["changes"]:
            handler = HANDLERS.get(change["kind"])
            with database.atomic():
                if handler is not None:
                    handler(change["payload"])
                state.put(state.CURSOR, change["cursor"])
            applied += 1
        if not page.get("more"):
            return applied


def settings_overrides() -> dict:
    """Box settings head office has sent, as Config field values."""
    found = {}
    for name, kind in SETTINGS.items():
        value = state.get(state.setting(name, kind))
        if value is not None:
            found[name] = value
    return found


def open_conflicts() -> list[SyncConflict]:
    return list(SyncConflict.select().where(SyncConflict.resolved_at.is_null()).order_by(SyncConflict.id))


def resolve(conflict: SyncConflict, take_hub: bool, actor: str) -> None:
    """Settle a conflict: take head office's version, or keep the box's (and send it to the hub)."""
    with database.atomic():
        if take_hub and conflict.kind == "patient.correct":
            payload = conflict.hub_version
            Patient.update(
                last_name=payload["last_name"],
                first_name=payload["first_name"],
                dob=dt.date.fromisoformat(payload["dob"]) if payload.get("dob") else None,
                updated_at=utcnow(),
            ).where(Patient.mrn == conflict.object_key).execute()
        elif not take_hub and conflict.kind == "patient.correct":
            patient = Patient.get_or_none(Patient.mrn == conflict.object_key)
            if patient is not None:
                Outbox.create(kind="patient", object_key=str(patient.id))
        SyncConflict.update(resolved_at=utcnow(), resolution="hub" if take_hub else "box", resolved_by=actor).where(
            SyncConflict.id == conflict.id
        ).execute()
        audit.record(
            "sync.conflict_resolved", actor=actor, obj=conflict, kept="hub" if take_hub else "box", kind=conflict.kind
        )
