"""What the box's sync looks like: for `python -m appliance.sync status`, the box dashboard and /metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import peewee as pw

from appliance.config import Config
from appliance.models import Document, Outbox, Scan, SyncConflict, utcnow

from . import state


def sync_status(config: Config, sending: Sequence[int] = ()) -> dict:
    """Backlog, oldest unsynced age, bytes pending, set-aside items, last success and last error;
    `sending`: outbox rows counted as sent (what a batch reports is what remains after it)."""
    pending = Outbox.select().where(Outbox.synced_at.is_null() & Outbox.set_aside_at.is_null())
    if sending:
        pending = pending.where(Outbox.id.not_in(list(sending)))
    oldest = pending.select(pw.fn.MIN(Outbox.created_at)).scalar()
    if isinstance(oldest, str):
        oldest = dt.datetime.fromisoformat(oldest)
    documents = [row.object_key for row in pending.where(Outbox.kind == "document")]
    bytes_pending = (
        (
            Scan.select(pw.fn.SUM(Scan.size))
            .join(Document, on=(Document.scan == Scan.id))
            .where(Document.uid.in_(documents))
            .scalar()
            or 0
        )
        if documents
        else 0
    )
    set_aside_rows = list(
        Outbox.select().where(Outbox.set_aside_at.is_null(False)).order_by(Outbox.id.desc()).limit(50)
    )
    return {
        "configured": state.enrolled(config),
        "hub": state.get(state.HUB_URL),
        "device_id": state.get(state.DEVICE_ID),
        "backlog": pending.count(),
        "oldest_unsynced_age_seconds": round((utcnow() - oldest).total_seconds()) if oldest else None,
        "bytes_pending": int(bytes_pending),
        "set_aside": [
            {
                "kind": row.kind,
                "key": row.object_key,
                "reason": row.set_aside_reason,
                "at": row.set_aside_at.isoformat() if isinstance(row.set_aside_at, dt.datetime) else row.set_aside_at,
            }
            for row in set_aside_rows
        ],
        "last_success": state.get(state.LAST_SUCCESS),
        "last_error": state.get(state.LAST_ERROR),
        "last_attempt": state.get(state.LAST_ATTEMPT),
        "clock_offset_seconds": state.get(state.CLOCK_OFFSET, 0.0),
        "conflicts": [
            {"id": c.id, "kind": c.kind, "key": c.object_key, "hub": c.hub_version, "box": c.box_version}
            for c in SyncConflict.select().where(SyncConflict.resolved_at.is_null()).order_by(SyncConflict.id)
        ],
    }
