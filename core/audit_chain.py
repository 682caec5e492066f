"""The audit chain both sides use: every event carries the SHA-256 of the one before it.

An event's hash is the SHA-256 of its canonical form (version 1, frozen: boxes and hubs in the
field have chains made with it): the UTF-8 JSON of `{"event": {...fields}, "prev": prev_hash,
"v": 1}` with keys sorted, no whitespace and non-ASCII characters kept as they are; date-times
as `YYYY-MM-DDTHH:MM:SS.ffffff` in naive UTC. The first event of a chain follows `GENESIS`.

Editing an event changes its hash; removing one, or putting one in between, breaks the link
from the next event. `first_break` walks a chain in order and names the first event where
either shows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

VERSION = 1
GENESIS = "0" * 64
# What a box hashes of each event: exactly the fields it sends the hub (docs/sync-protocol.md),
# so the hub can check the box's chain as the events arrive.
BOX_FIELDS = ("key", "at", "actor", "action", "object_type", "object_id", "address", "detail")
# What the hub hashes of each row of its audit log (ids of the organisation and device; `detail`
# as the JSON text stored); a box's event keeps the box's own hashes inside the hub's chain too.
HUB_FIELDS = (
    "organisation",
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "address",
    "detail",
    "source_key",
    "device",
    "box_event_id",
    "box_prev_hash",
    "box_hash",
)


def _timestamp(value: dt.datetime | str) -> str:
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def canonical(fields: Mapping[str, Any], prev_hash: str) -> bytes:
    """The exact bytes hashed for one event (`at` may be a datetime or its ISO text)."""
    event = {name: _timestamp(value) if name == "at" else _plain(value) for name, value in fields.items()}
    document = {"event": event, "prev": prev_hash, "v": VERSION}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    """The hex SHA-256 of an event that follows `prev_hash`."""
    return hashlib.sha256(canonical(fields, prev_hash)).hexdigest()


@dataclass(frozen=True)
class Link:
    """One stored event as the chain sees it: its id, hashed fields and the two hashes."""

    id: int
    fields: Mapping[str, Any]
    prev_hash: str | None
    hash: str | None


@dataclass(frozen=True)
class Break:
    """The first event at which a chain does not hold, and what is wrong there."""

    event_id: int
    problem: str


def first_break(links: Iterable[Link], contiguous_ids: bool = False) -> tuple[int, Break | None]:
    """Walk a chain in order: (events verified, the first break or None).

    `contiguous_ids`: ids go 1, 2, 3, ... (the box), so a jump names the missing events.
    """
    expected, previous_id, verified = GENESIS, None, 0
    for link in links:
        if link.hash is None or link.prev_hash is None:
            return verified, Break(link.id, f"event {link.id} has no hash: it was not written by the audit log")
        if link.prev_hash != expected:
            return verified, Break(link.id, _broken_link(link.id, previous_id, contiguous_ids))
        if event_hash(link.fields, link.prev_hash) != link.hash:
            return verified, Break(link.id, f"event {link.id} does not match its hash: the event was changed")
        expected, previous_id, verified = link.hash, link.id, verified + 1
    return verified, None


def _broken_link(event_id: int, previous_id: int | None, contiguous_ids: bool) -> str:
    if previous_id is None:
        return f"event {event_id} is the first one left but does not start the chain: the events before it were removed"
    if contiguous_ids and event_id != previous_id + 1:
        missing = (
            f"event {previous_id + 1}" if event_id == previous_id + 2 else f"events {previous_id + 1} to {event_id - 1}"
        )
        return f"{missing} missing: event {event_id} does not follow event {previous_id}"
    return (
        f"event {event_id} does not follow event {previous_id}: an event between them was removed, "
        f"or event {previous_id} was rewritten with a new hash"
    )
