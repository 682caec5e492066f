"""Append-only, hash-chained audit events (the database refuses updates and deletes).

Each event carries the hash of the one before it (`core.audit_chain`), so an event edited or
removed in the database file itself shows: `python -m appliance audit verify` finds the first
broken link, and the hub checks the chain as the events arrive.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from core.audit_chain import BOX_FIELDS, GENESIS, Break, Link, event_hash, first_break

from .db import database
from .models import AuditEvent, Outbox, utcnow


def chained_fields(event_id: int, at, actor, action, object_type, object_id, address, detail) -> dict:
    """What the chain hashes of one box event: the fields it sends the hub, its id as `key`."""
    values = (str(event_id), at, actor, action, object_type, object_id, address, detail)
    return dict(zip(BOX_FIELDS, values, strict=True))


def record(action: str, actor: str = "system", obj=None, address: str | None = None, **detail) -> AuditEvent:
    """Record that `actor` did `action` to `obj` (a model instance or None), and queue it for the hub
    in the same transaction."""
    # As the JSON column gives it back, so the hash made now is the hash checked later.
    stored_detail = json.loads(json.dumps(detail, sort_keys=True)) if detail else None
    # IMMEDIATE: this connection holds the database's single writer lock from the first read of
    # the last hash until the commit, so two events never follow the same one.
    with database.atomic("IMMEDIATE"):
        last = AuditEvent.select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).first()
        event_id = last.id + 1 if last else 1
        prev_hash = (last.hash or GENESIS) if last else GENESIS
        values = {
            "at": utcnow(),
            "actor": actor,
            "action": action,
            "object_type": type(obj).__name__.lower() if obj is not None else None,
            "object_id": str(obj.id) if obj is not None else None,
            "address": address,
            "detail": stored_detail,
        }
        event = AuditEvent.create(
            id=event_id,
            prev_hash=prev_hash,
            hash=event_hash(chained_fields(event_id, **values), prev_hash),
            **values,
        )
        Outbox.create(kind="audit", object_key=str(event.id))
    return event


def _links() -> Iterator[Link]:
    for event in AuditEvent.select().order_by(AuditEvent.id).iterator():
        fields = chained_fields(
            event.id,
            event.at,
            event.actor,
            event.action,
            event.object_type,
            event.object_id,
            event.address,
            event.detail,
        )
        yield Link(event.id, fields, event.prev_hash, event.hash)


def verify() -> tuple[int, Break | None]:
    """Walk the whole chain: (events verified, the first broken link or None)."""
    return first_break(_links(), contiguous_ids=True)
