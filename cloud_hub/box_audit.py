"""A box's audit events at the hub: kept in the organisation's chain, the box's own chain checked
as they arrive.

A box sends each event with its hash and the hash of the event before it (docs/sync-protocol.md).
The hub recomputes the hash from what it received (a mismatch: the event was changed on the box
before it was sent), checks that the event follows the box's event before it and precedes the one
after it when it has those (a break: an event was rewritten, removed or put in between), and
counts the events missing between the first and the last one received from the box (a gap, which
closes if a late event fills it). Breaks are counted on the device with the first one described;
every event is stored all the same, so nothing the box sent is lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import peewee as pw

from core.audit_chain import BOX_FIELDS, GENESIS, event_hash

from . import audit
from .models import AuditEvent, Device, utcnow

log = logging.getLogger(__name__)
HASH_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_EVENT_ID = 2**63 - 1


@dataclass(frozen=True)
class BoxLink:
    """The chain part of one received box event."""

    event_id: int | None
    prev_hash: str | None = None
    hash: str | None = None
    content_ok: bool = False

    @property
    def chained(self) -> bool:
        return self.hash is not None


def read_link(event: dict, at: dt.datetime) -> BoxLink:
    """The received event's place in the box's chain, and whether its hash matches what arrived."""
    key = str(event.get("key", ""))
    event_id = int(key) if key.isdigit() and int(key) <= MAX_EVENT_ID else None
    prev_hash, hashed = event.get("prev_hash"), event.get("hash")
    if event_id is None or not all(isinstance(h, str) and HASH_RE.match(h) for h in (prev_hash, hashed)):
        return BoxLink(event_id)
    fields = {name: at if name == "at" else event.get(name) for name in BOX_FIELDS}
    return BoxLink(event_id, prev_hash, hashed, event_hash(fields, prev_hash) == hashed)


@dataclass(frozen=True)
class Arrival:
    """One checked box event: its key in the hub's log, its columns, its link in the box's chain."""

    key: str
    fields: dict
    link: BoxLink


def _problems_of_new(arrival: Arrival, has_chain: bool) -> list[str]:
    link = arrival.link
    if not link.chained:
        return [f"event {link.event_id or arrival.key} arrived without its hash"] if has_chain else []
    if not link.content_ok:
        return [f"event {link.event_id} does not match its hash: it was changed on the box before it was sent"]
    return []


def _link_problems(device: Device, new: list[BoxLink]) -> list[str]:
    """Breaks between the new events and the box's events next to them that the hub has."""
    if not new:
        return []
    wanted = {n for link in new for n in (link.event_id - 1, link.event_id + 1)}
    stored = {
        event_id: (prev_hash, hashed)
        for event_id, prev_hash, hashed in AuditEvent.select(
            AuditEvent.box_event_id, AuditEvent.box_prev_hash, AuditEvent.box_hash
        )
        .where((AuditEvent.device == device.id) & AuditEvent.box_event_id.in_(sorted(wanted)))
        .tuples()
    }
    arrived = {link.event_id for link in new}
    problems = []
    for link in sorted(new, key=lambda link: link.event_id):
        before, after = stored.get(link.event_id - 1), stored.get(link.event_id + 1)
        if link.event_id == 1 and link.prev_hash != GENESIS:
            problems.append("event 1 does not start the box's chain")
        if before is not None and before[1] != link.prev_hash:
            problems.append(f"event {link.event_id} does not follow event {link.event_id - 1}")
        if after is not None and link.event_id + 1 not in arrived and after[0] != link.hash:
            problems.append(f"event {link.event_id + 1} does not follow event {link.event_id}")
    return problems


def _missing(device: Device) -> int:
    """Events of the box's chain missing between the first and the last one the hub has."""
    low, high, count = (
        AuditEvent.select(
            pw.fn.MIN(AuditEvent.box_event_id), pw.fn.MAX(AuditEvent.box_event_id), pw.fn.COUNT(AuditEvent.id)
        )
        .where((AuditEvent.device == device.id) & AuditEvent.box_event_id.is_null(False))
        .tuples()
        .get()
    )
    return 0 if low is None else high - low + 1 - count


def store(device: Device, arrivals: Sequence[Arrival]) -> list[str]:
    """Store a batch's box events in the organisation's chain and check the box's chain;
    each event's result: 'applied', or 'unchanged' when the hub has it already."""
    organisation_id = device.organisation_id
    with audit.chain_of(organisation_id):
        known = dict(
            AuditEvent.select(AuditEvent.source_key, AuditEvent.box_hash)
            .where(AuditEvent.source_key.in_([a.key for a in arrivals]))
            .tuples()
        )
        has_chain = (
            AuditEvent.select()
            .where((AuditEvent.device == device.id) & AuditEvent.box_event_id.is_null(False))
            .exists()
        )
        rows, new, problems, results = [], [], [], []
        for arrival in arrivals:
            link, key = arrival.link, arrival.key
            # Every row names all of these, so that one insert takes rows of either kind.
            box_columns = {"device": device.id, "box_event_id": None, "box_prev_hash": None, "box_hash": None}
            if key in known:
                if not link.chained or known[key] in (None, link.hash):
                    results.append("unchanged")
                    continue
                problems.append(f"event {link.event_id} arrived again with different content")
                key = f"{key}#{link.hash[:16]}"
                if key in known:
                    results.append("unchanged")
                    continue
                box_columns.update(box_prev_hash=link.prev_hash, box_hash=link.hash)
            else:
                problems += _problems_of_new(arrival, has_chain)
                if link.chained:
                    box_columns.update(box_event_id=link.event_id, box_prev_hash=link.prev_hash, box_hash=link.hash)
                    new.append(link)
                    has_chain = True
            known[key] = link.hash
            rows.append({**arrival.fields, "source_key": key, **box_columns})
            results.append("applied")
        if rows:
            AuditEvent.insert_many(audit.chained(organisation_id, rows)).execute()
        problems += _link_problems(device, new)
        before = Device.select(Device.audit_missing).where(Device.id == device.id).scalar()
        missing = _missing(device) if new else before
        if problems or missing != before:
            _note(device, problems, missing)
    return results


def _note(device: Device, problems: list[str], missing: int) -> None:
    """Record on the device, in the log and in the organisation's audit log what the box's chain
    shows now: new breaks, or a different number of missing events."""
    changes: dict = {"audit_missing": missing}
    if problems:
        changes.update(
            audit_breaks=Device.audit_breaks + len(problems),
            audit_problem=pw.fn.COALESCE(Device.audit_problem, problems[0]),
            audit_problem_at=pw.fn.COALESCE(Device.audit_problem_at, utcnow()),
        )
    Device.update(**changes).where(Device.id == device.id).execute()
    found = "; ".join(problems) or "no new break"
    log.warning("box %s: audit chain: %s; %s event(s) missing", device.uid, found, missing)
    audit.record(
        "device.audit_chain",
        actor="hub",
        organisation=device.organisation_id,
        obj=device,
        problems=problems,
        missing=missing,
    )
