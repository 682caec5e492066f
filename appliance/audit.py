"""Append-only audit events (the database refuses updates and deletes)."""

from __future__ import annotations

from .db import database
from .models import AuditEvent, Outbox


def record(action: str, actor: str = "system", obj=None, address: str | None = None, **detail) -> AuditEvent:
    """Record that `actor` did `action` to `obj` (a model instance or None), and queue it for the hub
    in the same transaction."""
    with database.atomic():
        event = AuditEvent.create(
            actor=actor,
            action=action,
            object_type=type(obj).__name__.lower() if obj is not None else None,
            object_id=str(obj.id) if obj is not None else None,
            address=address,
            detail=detail or None,
        )
        Outbox.create(kind="audit", object_key=str(event.id))
    return event
