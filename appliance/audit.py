"""Append-only audit events (the database refuses updates and deletes)."""
from __future__ import annotations

from .models import AuditEvent


def record(action: str, actor: str = "system", obj=None, address: str | None = None, **detail) -> AuditEvent:
    """Record that `actor` did `action` to `obj` (a model instance or None)."""
    return AuditEvent.create(
        actor=actor,
        action=action,
        object_type=type(obj).__name__.lower() if obj is not None else None,
        object_id=str(obj.id) if obj is not None else None,
        address=address,
        detail=detail or None,
    )
