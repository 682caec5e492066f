"""The pull feed: head office's changes for the boxes, in a server-assigned monotonic order."""

from __future__ import annotations

import json

from .db import database, locked
from .models import Change, ChangeCursor, Clinic, Device, Organisation


def publish(organisation: Organisation | int, clinic: Clinic | int | None, kind: str, payload: dict) -> Change:
    """Append a change for one clinic's boxes (or, with no clinic, all of the organisation's).

    The cursor is taken from the organisation's counter row under a row lock in the same
    transaction as the insert, so changes become visible in cursor order and a box reading
    "after N" never skips one that commits later.
    """
    organisation_id = organisation if isinstance(organisation, int) else organisation.id
    with database.atomic():
        ChangeCursor.insert(organisation=organisation_id, value=0).on_conflict_ignore().execute()
        counter = locked(ChangeCursor.select().where(ChangeCursor.organisation == organisation_id)).get()
        cursor = counter.value + 1
        ChangeCursor.update(value=cursor).where(ChangeCursor.organisation == organisation_id).execute()
        return Change.create(
            organisation=organisation_id,
            clinic=clinic,
            cursor=cursor,
            kind=kind,
            payload=json.dumps(payload, sort_keys=True, default=str),
        )


def feed(device: Device, after: int, limit: int) -> dict:
    """Changes for this device's clinic with a cursor above `after`, oldest first."""
    rows = list(
        Change.select()
        .where(
            (Change.organisation == device.organisation_id)
            & (Change.cursor > after)
            & (Change.clinic.is_null() | (Change.clinic == device.clinic_id))
        )
        .order_by(Change.cursor)
        .limit(limit + 1)
    )
    more, rows = len(rows) > limit, rows[:limit]
    return {
        "changes": [
            {
                "cursor": row.cursor,
                "kind": row.kind,
                "payload": json.loads(row.payload),
                "at": row.created_at.isoformat() + "Z",
            }
            for row in rows
        ],
        "cursor": rows[-1].cursor if rows else after,
        "more": more,
    }
