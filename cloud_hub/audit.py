"""Append-only audit events at the hub (the database refuses updates and deletes)."""

from __future__ import annotations

import json

from .models import AuditEvent, Organisation


def record(
    action: str,
    *,
    actor: str,
    organisation: Organisation | int | None = None,
    obj=None,
    address: str | None = None,
    **detail,
) -> AuditEvent:
    """Write one audit event; `detail` holds ids and counts, never patient data."""
    return AuditEvent.create(
        organisation=organisation,
        actor=actor,
        action=action,
        object_type=type(obj).__name__.lower() if obj is not None else None,
        object_id=str(obj.id) if obj is not None else None,
        address=address,
        detail=json.dumps(detail, sort_keys=True, default=str) if detail else None,
    )
