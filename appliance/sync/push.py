"""One push cycle: outbox rows → blobs the hub lacks → one signed batch → rows marked synced.

Order and durability:
1. An unanswered batch from an earlier cycle is sent again first, byte for byte (same batch
   id), so a lost answer never applies a change twice and never skips one.
2. Otherwise the oldest pending rows (bounded by count and bytes) become one batch; several
   rows for the same object become one item carrying its current state.
3. Originals go first: the hub is asked which SHA-256s it lacks, and only those are uploaded,
   in chunks from the offset the hub reports (a cut link resumes where it stopped).
4. The batch is written to SQLite before it is sent; rows are marked synced only from the
   hub's answer. `refused` items are set aside with the hub's reason, `retry` items go
   back to the queue.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import peewee as pw

from appliance import at_rest, audit
from appliance.config import Config
from appliance.db import database
from appliance.ingest.intake import open_original, store_path
from appliance.models import Outbox, Quarantine, Scan, SyncBatch, utcnow
from sync import protocol

from . import state
from .client import HubClient, HubError
from .limits import Throttle, in_window, parse_window
from .payloads import item_for
from .status import sync_status

UNREADABLE_ATTEMPTS = 3


@dataclass
class PushResult:
    synced: int = 0
    set_aside: int = 0
    waiting: int = 0
    blobs_sent: int = 0
    bytes_sent: int = 0
    held_for_window: int = 0
    held_through_id: int = 0  # every row still pending up to this id waits for a later cycle
    upload_failure: HubError | None = None  # raised once the rest has gone


@dataclass
class Rules:
    """This cycle's limits: may originals travel now, and how fast."""

    blobs_allowed: bool = True
    throttle: Throttle | None = None

    @classmethod
    def for_now(cls, config: Config, ignore_window: bool = False) -> Rules:
        window = parse_window(config.sync_blob_window)
        # The window is read on the box's clock corrected by the hub's (it may have no real-time clock).
        now = dt.datetime.now() + dt.timedelta(seconds=state.get(state.CLOCK_OFFSET, 0.0))
        allowed = ignore_window or in_window(window, now.time())
        return cls(allowed, Throttle(config.sync_bandwidth_bytes) if config.sync_bandwidth_bytes > 0 else None)


def pending_rows(limit: int, after_id: int = 0) -> list[Outbox]:
    """The oldest rows waiting to be batched, after `after_id` (those up to it are held for the
    bulk window in this cycle)."""
    return list(
        Outbox.select()
        .where(
            Outbox.synced_at.is_null()
            & Outbox.set_aside_at.is_null()
            & Outbox.batch_id.is_null()
            & (Outbox.id > after_id)
        )
        .order_by(Outbox.id)
        .limit(limit)
    )


def backlog() -> int:
    """Outbox rows not yet acknowledged by the hub (set-aside rows excluded)."""
    return Outbox.select().where(Outbox.synced_at.is_null() & Outbox.set_aside_at.is_null()).count()


def reported_status(config: Config, sending: list[int]) -> dict:
    """What the hub's device page shows of this box's sync: what remains once the rows being
    sent are acknowledged, and how many files wait in quarantine (they never leave the box)."""
    summary = sync_status(config, sending)
    reported = {key: summary[key] for key in ("backlog", "oldest_unsynced_age_seconds", "bytes_pending", "last_error")}
    return {**reported, "quarantine_open": Quarantine.select().where(Quarantine.resolved_at.is_null()).count()}


def upload_blob(client: HubClient, config: Config, scan: Scan, rules: Rules, offset: int = 0) -> int:
    """Send the scan's original from `offset` (what the hub said it has); the bytes sent.

    Should the hub hold a different part by now, it answers 409 with its offset and the upload
    continues from there.
    """
    sent = 0
    with open_original(config, scan.sha256) as handle:
        size = handle.seek(0, io.SEEK_END)
        while offset < size:
            handle.seek(offset)
            chunk = handle.read(config.sync_chunk_bytes)
            try:
                answer = client.request(
                    "PUT",
                    f"/api/v1/sync/blobs/{scan.sha256}?size={size}&offset={offset}",
                    chunk,
                    "application/octet-stream",
                )
            except HubError as error:
                if error.code != "wrong_offset" or "received" not in error.body:
                    raise
                offset = int(error.body["received"])
                continue
            offset += len(chunk)
            sent += len(chunk)
            if rules.throttle is not None:
                rules.throttle.account(len(chunk))
            if answer.get("complete"):
                break
    return sent


def upload_pack(client: HubClient, config: Config, scans: list[Scan], rules: Rules) -> int:
    """Send several small originals in one request (the hub checks each against its name); the
    bytes sent. All or nothing: a cut link leaves them missing, to be sent again."""
    pieces = [at_rest.sealing().read(store_path(config, scan.sha256)) for scan in scans]
    listing = ",".join(f"{scan.sha256}:{len(piece)}" for scan, piece in zip(scans, pieces, strict=True))
    data = b"".join(pieces)
    client.request("POST", f"/api/v1/sync/blobs/pack?blobs={listing}", data, "application/octet-stream")
    if rules.throttle is not None:
        rules.throttle.account(len(data))
    return len(data)


def plan_uploads(config: Config, scans: list[Scan], received: dict[str, int]) -> list[list[Scan]]:
    """The requests to make: originals no larger than a chunk and not yet started travel
    together in packs of up to a chunk's bytes (fewer round trips for a day of one-page
    scans); the others go alone, chunked and resumable (so does one that cannot be read, to
    be set aside on its own)."""
    units: list[list[Scan]] = []
    pack: list[Scan] = []
    pack_bytes = 0
    for scan in scans:
        try:
            store_path(config, scan.sha256).stat()
            size = scan.size
        except OSError:
            size = None
        if size is None or received.get(scan.sha256) or size > config.sync_chunk_bytes:
            units.append([scan])
            continue
        if pack and (pack_bytes + size > config.sync_chunk_bytes or len(pack) == protocol.MAX_PACK_BLOBS):
            units.append(pack)
            pack, pack_bytes = [], 0
        pack.append(scan)
        pack_bytes += size
    if pack:
        units.append(pack)
    return units


@dataclass
class Unsent:
    """Originals a cycle could not send: `refused` never will be as they are (set aside at once),
    `unreadable` could not be read on the box this time (set aside after a few cycles)."""

    refused: dict[str, str] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)

    def update(self, other: Unsent) -> None:
        self.refused.update(other.refused)
        self.unreadable.update(other.unreadable)


def _unreadable(error: OSError) -> str:
    return f"the original cannot be read on the box: {error.strerror or error}"


def send_unit(
    client: HubClient, config: Config, unit: list[Scan], received: dict[str, int], rules: Rules
) -> tuple[int, Unsent]:
    """Upload one planned unit; the bytes sent and what could not be sent. The hub refuses an
    original for good when it is malformed for it (400, 413) or does not hash to its name
    while the box's copy does not either (damaged here); when the box's copy is sound, what
    reached the hub was not, and it is sent again. Any other refusal, and every failure that
    may pass, is raised.

    A pack the hub refuses is sent again one original at a time, so the refusal lands on the
    original that earned it (and a hub without packs still gets everything)."""
    if len(unit) > 1:
        try:
            return upload_pack(client, config, unit, rules), Unsent()
        except HubError as error:
            if error.retry:
                raise
        except OSError:
            pass
    sent, unsent = 0, Unsent()
    for scan in unit:
        path = store_path(config, scan.sha256)
        try:
            sent += upload_blob(client, config, scan, rules, int(received.get(scan.sha256, 0)))
            continue
        except HubError as error:
            if error.retry or error.status not in (400, 413, 422):
                raise
            refusal = error
        except OSError as error:
            unsent.unreadable[scan.sha256] = _unreadable(error)
            continue
        if refusal.code != "hash_mismatch":
            unsent.refused[scan.sha256] = f"the hub refused the original: {refusal}"
            continue
        try:
            sound = hashlib.sha256(at_rest.sealing().read(path)).hexdigest() == scan.sha256
        except OSError as error:
            unsent.unreadable[scan.sha256] = _unreadable(error)
            continue
        if sound:
            raise HubError(str(refusal), retry=True, status=refusal.status, code=refusal.code)
        unsent.refused[scan.sha256] = f"the hub refused the original: it does not match its SHA-256 ({refusal})"
    return sent, unsent


def upload_all(
    client: HubClient, config: Config, scans: list[Scan], received: dict[str, int], result: PushResult, rules: Rules
) -> Unsent:
    """Upload originals, several requests at once (APPLIANCE_SYNC_PARALLEL_UPLOADS, one connection
    each), large ones from where the hub's copy stops; what could not be sent. The first
    failure is raised once the others have finished (what they stored stays)."""
    connections = threading.local()

    def upload(unit: list[Scan]) -> tuple[int, Unsent]:
        if not hasattr(connections, "client"):
            connections.client = client.clone()
        return send_unit(connections.client, config, unit, received, rules)

    units = plan_uploads(config, scans, received)
    with ThreadPoolExecutor(max_workers=config.sync_parallel_uploads) as pool:
        futures = [(unit, pool.submit(upload, unit)) for unit in units]
    failure, unsent = None, Unsent()
    for unit, future in futures:
        try:
            sent, missed = future.result()
        except HubError as error:
            failure = failure or error
            continue
        result.bytes_sent += sent
        result.blobs_sent += len(unit) - len(missed.refused) - len(missed.unreadable)
        unsent.update(missed)
    if failure is not None:
        raise failure
    return unsent


def requeue_set_aside(keys: list[str] | None = None, actor: str = "system") -> int:
    """Put set-aside items (all, or those of `keys`) back in the queue once their cause is fixed
    (an original restored, a hub refusal resolved); how many rows went back. Audited."""
    query = Outbox.update(set_aside_at=None, set_aside_reason=None, attempts=0, batch_id=None).where(
        Outbox.set_aside_at.is_null(False)
    )
    if keys:
        query = query.where(Outbox.object_key.in_(keys))
    with database.atomic():
        count = query.execute()
        if count:
            audit.record("sync.requeue", actor=actor, items=count)
    return count


def _hold(items: dict, members: dict, missing: set[str], result: PushResult) -> int:
    """Leave out of this batch the documents whose originals are not at the hub (they wait in
    the outbox, behind `result.held_through_id`, until the next cycle); how many."""
    held = [
        name
        for name, item in items.items()
        if item["type"] == "document" and item["document"]["blob_sha256"] in missing
    ]
    for name in held:
        items.pop(name)
        result.held_through_id = max(result.held_through_id, *members[name])
    return len(held)


def _settle_unsent(items: dict, members: dict, unsent: Unsent, result: PushResult) -> None:
    """Documents whose originals did not go: refused ones are set aside; unreadable ones wait
    for the next cycle (a store not mounted yet, a passing read error) and are set aside only
    after UNREADABLE_ATTEMPTS cycles."""
    for name in [name for name, item in items.items() if item["type"] == "document"]:
        sha = items[name]["document"]["blob_sha256"]
        ids = members[name]
        if sha in unsent.refused:
            items.pop(name)
            _set_aside(ids, unsent.refused[sha])
            result.set_aside += len(ids)
        elif sha in unsent.unreadable:
            Outbox.update(attempts=Outbox.attempts + 1, last_error=unsent.unreadable[sha]).where(
                Outbox.id.in_(ids)
            ).execute()
            if Outbox.select(pw.fn.MAX(Outbox.attempts)).where(Outbox.id.in_(ids)).scalar() >= UNREADABLE_ATTEMPTS:
                items.pop(name)
                _set_aside(ids, unsent.unreadable[sha])
                result.set_aside += len(ids)
            else:
                _hold(items, members, {sha}, result)


def _set_aside(ids: list[int], reason: str) -> None:
    Outbox.update(set_aside_at=utcnow(), set_aside_reason=reason, batch_id=None).where(Outbox.id.in_(ids)).execute()


def _new_batch(client: HubClient, config: Config, result: PushResult, rules: Rules) -> SyncBatch | None:
    rows = pending_rows(config.sync_batch_items, result.held_through_id)
    if rows and rows[0].id <= state.get(state.SEND_SINGLY_THROUGH, 0):
        rows = rows[:1]  # what a batch refused whole carried goes one row at a time
    items: dict[str, dict] = {}
    scans: dict[str, Scan] = {}
    members: dict[str, list[int]] = {}
    size = 0
    for row in rows:
        name = f"{row.kind}:{row.object_key}"
        members.setdefault(name, []).append(row.id)
        if name in items:
            continue
        item, scan = item_for(row.kind, row.object_key)
        if item is None:
            continue
        encoded = len(json.dumps(item))
        if items and size + encoded > config.sync_batch_bytes:
            members.pop(name)
            break
        items[name], size = item, size + encoded
        if scan is not None:
            scans[scan.sha256] = scan
    obsolete = [row_id for name, ids in members.items() if name not in items for row_id in ids]
    if obsolete:
        Outbox.update(synced_at=utcnow(), last_error="nothing left to send").where(Outbox.id.in_(obsolete)).execute()
    if scans:
        answer = client.post_json("/api/v1/sync/blobs/missing", {"sha256": list(scans)})
        missing = answer["missing"]
        if rules.blobs_allowed:
            try:
                unsent = upload_all(
                    client, config, [scans[sha] for sha in missing], answer.get("received", {}), result, rules
                )
            except HubError as error:
                if error.status is None:
                    raise  # no link: nothing else would go either
                # The hub answers but took not every original: the rest of the batch still goes.
                result.upload_failure = result.upload_failure or error
                rules.blobs_allowed = False  # and no more uploads this cycle
                _hold(items, members, set(missing), result)
                unsent = Unsent()
            _settle_unsent(items, members, unsent, result)
        else:
            held = _hold(items, members, set(missing), result)
            if result.upload_failure is None:
                result.held_for_window += held
    if not items:
        return None
    seq = state.get(state.SEQ, 0) + 1
    ids = [row_id for name in items for row_id in members[name]]
    status = reported_status(config, ids)
    body = json.dumps(
        {
            "batch_id": uuid.uuid4().hex,
            "seq": seq,
            "backlog": status.pop("backlog"),
            "status": status,
            "items": list(items.values()),
        },
        separators=(",", ":"),
    )
    with database.atomic():
        batch = SyncBatch.create(batch_uid=json.loads(body)["batch_id"], seq=seq, body=body)
        state.put(state.SEQ, seq)
        Outbox.update(batch_id=batch.id).where(Outbox.id.in_(ids)).execute()
    return batch


def _apply_answer(batch: SyncBatch, answer: dict, result: PushResult) -> None:
    now = utcnow()
    with database.atomic():
        for item in answer.get("results", []):
            rows = Outbox.select(Outbox.id).where(Outbox.batch_id == batch.id)
            kind, _, key = str(item.get("id", "")).partition(":")
            rows = rows.where((Outbox.kind == kind) & (Outbox.object_key == key))
            ids = [row.id for row in rows]
            if item.get("status") in ("applied", "unchanged"):
                Outbox.update(synced_at=now, last_error=None).where(Outbox.id.in_(ids)).execute()
                result.synced += len(ids)
            elif item.get("status") == "refused":
                _set_aside(ids, item.get("error") or "refused by the hub")
                result.set_aside += len(ids)
            else:
                Outbox.update(batch_id=None, attempts=Outbox.attempts + 1, last_error=item.get("error")).where(
                    Outbox.id.in_(ids)
                ).execute()
                result.waiting += len(ids)
        Outbox.update(batch_id=None).where(
            (Outbox.batch_id == batch.id) & Outbox.synced_at.is_null() & Outbox.set_aside_at.is_null()
        ).execute()
        SyncBatch.update(committed_at=now).where(SyncBatch.id == batch.id).execute()


def _refused_whole(batch: SyncBatch, error: HubError, result: PushResult) -> None:
    """The hub refused the whole batch (too large, or unreadable to it) and applied none of it.
    A batch of one item sets that item aside; a larger one goes back to the queue to be sent
    again one item at a time, so the item that caused it is found and the rest still goes.
    Its sequence number is used again (the hub never counted it)."""
    items = len(json.loads(batch.body)["items"])
    with database.atomic():
        SyncBatch.update(committed_at=utcnow()).where(SyncBatch.id == batch.id).execute()
        state.put(state.SEQ, batch.seq - 1)
        ids = [row.id for row in Outbox.select(Outbox.id).where(Outbox.batch_id == batch.id)]
        if items == 1:
            _set_aside(ids, f"the hub refused it: {error}")
            result.set_aside += len(ids)
        else:
            Outbox.update(batch_id=None).where(Outbox.id.in_(ids)).execute()
            state.put(state.SEND_SINGLY_THROUGH, max(ids))


def push(client: HubClient, config: Config, max_batches: int | None = None, rules: Rules | None = None) -> PushResult:
    """Send batches until the outbox is empty, or `max_batches` were answered (a failed request
    raises HubError; whatever was acknowledged before it stays acknowledged). Documents whose
    originals may not travel now (outside the window) or did not (an upload the hub answered
    with an error, raised at the end) wait in the outbox; everything else still goes."""
    result = PushResult()
    _send_batches(client, config, max_batches, rules or Rules.for_now(config), result)
    if result.upload_failure is not None:
        raise result.upload_failure
    return result


def _send_batches(client: HubClient, config: Config, max_batches: int | None, rules: Rules, result: PushResult) -> None:
    answered = 0
    while max_batches is None or answered < max_batches:
        batch = SyncBatch.select().where(SyncBatch.committed_at.is_null()).order_by(SyncBatch.id).first()
        if batch is None:
            batch = _new_batch(client, config, result, rules)
        if batch is None:
            # Every row looked at was held for the window or set aside: the ones behind them
            # (metadata travels at any time) are next.
            if pending_rows(1, result.held_through_id):
                continue
            return
        try:
            answer = client.request("POST", "/api/v1/sync/batches", batch.body.encode())
        except HubError as error:
            if error.retry or error.status not in (400, 413):
                raise
            _refused_whole(batch, error, result)
            continue
        settled = result.synced + result.set_aside
        _apply_answer(batch, answer, result)
        answered += 1
        if not pending_rows(1, result.held_through_id) or result.synced + result.set_aside == settled:
            return
