"""Append-only, hash-chained audit events at the hub (the database refuses updates and deletes).

There is one chain per organisation (and one for the events of no organisation, such as a
failed sign-in with an unknown e-mail). Each event carries the hash of the one before it in its
chain (`core.audit_chain`); `python -m cloud_hub audit verify --org NAME` finds the first broken
link. Writers of one chain take turns: on PostgreSQL under a transaction-scoped advisory lock
per organisation, on SQLite under the database's single writer lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from core.audit_chain import GENESIS, HUB_FIELDS, Break, Link, event_hash, first_break

from .db import database, is_postgres
from .models import AuditEvent, Organisation, utcnow

# Detail keys that boxes before this release filled with patient data (a search's words, a review
# reason). Their events stay stored as they came (append-only); the audit pages withhold them.
WITHHELD_KEYS = ("query", "previous_reason")
WITHHELD = "(withheld: patient data)"
# The first key of PostgreSQL's two-key advisory locks held while appending to a chain (the
# second is the organisation's id, 0 for no organisation).
CHAIN_LOCK = 4242002


def _organisation_id(organisation: Organisation | int | None) -> int | None:
    return organisation.id if isinstance(organisation, Organisation) else organisation


@contextmanager
def chain_of(organisation_id: int | None) -> Iterator[None]:
    """A transaction in which this process alone appends to the organisation's chain."""
    if is_postgres():
        with database.atomic():
            database.execute_sql("SELECT pg_advisory_xact_lock(%s, %s)", (CHAIN_LOCK, organisation_id or 0))
            yield
    else:
        with database.atomic("IMMEDIATE"):
            yield


def chained_fields(values: dict) -> dict:
    """What the chain hashes of one row, from the row's column values (`organisation`, `device`: ids)."""
    return {name: values.get(name) for name in HUB_FIELDS}


def _in_chain(organisation_id: int | None):
    return AuditEvent.organisation.is_null() if organisation_id is None else AuditEvent.organisation == organisation_id


def chained(organisation_id: int | None, rows: Sequence[dict]) -> list[dict]:
    """Rows (column values, `at` included) with their hashes, to add to the end of the
    organisation's chain in this order; call it inside `chain_of(organisation_id)`."""
    last = AuditEvent.select(AuditEvent.hash).where(_in_chain(organisation_id)).order_by(AuditEvent.id.desc()).first()
    prev_hash = last.hash if last is not None and last.hash else GENESIS
    linked = []
    for row in rows:
        values = {**row, "organisation": organisation_id}
        hashed = event_hash(chained_fields(values), prev_hash)
        linked.append({**values, "prev_hash": prev_hash, "hash": hashed})
        prev_hash = hashed
    return linked


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
    organisation_id = _organisation_id(organisation)
    row = {
        "at": utcnow(),
        "actor": actor,
        "action": action,
        "object_type": type(obj).__name__.lower() if obj is not None else None,
        "object_id": str(obj.id) if obj is not None else None,
        "address": address,
        "detail": json.dumps(detail, sort_keys=True, default=str) if detail else None,
    }
    with chain_of(organisation_id):
        return AuditEvent.create(**chained(organisation_id, [row])[0])


def shown_detail(detail: str | None) -> str | None:
    """An event's detail as the audit pages and the CSV show it, patient data withheld."""
    if not detail:
        return detail
    try:
        values = json.loads(detail)
    except ValueError:
        return detail
    if not isinstance(values, dict) or not any(key in values for key in WITHHELD_KEYS):
        return detail
    return json.dumps({k: WITHHELD if k in WITHHELD_KEYS else v for k, v in values.items()}, sort_keys=True)


def _links(organisation_id: int | None) -> Iterator[Link]:
    rows = AuditEvent.select().where(_in_chain(organisation_id)).order_by(AuditEvent.id)
    for event in rows.iterator():
        values = {name: getattr(event, name) for name in HUB_FIELDS if name not in ("organisation", "device")}
        values.update(organisation=event.organisation_id, device=event.device_id)
        yield Link(event.id, chained_fields(values), event.prev_hash, event.hash)


def verify(organisation_id: int | None) -> tuple[int, Break | None]:
    """Walk one organisation's chain (None: the events of no organisation): (events verified,
    the first broken link or None)."""
    return first_break(_links(organisation_id))
