"""Batch commit: a box's changes applied in one transaction, exactly once per batch id.

A batch is `{"batch_id", "seq", "backlog"?, "items": [...]}`. Each item is applied inside its
own savepoint, so one bad item is reported and the others still commit. The answer is stored
with the batch: the same batch id sent again gets the same answer (even while the first
commit is still running, the second waits for it), and the same id with different content is
refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import peewee as pw

from . import billing, box_audit
from .blobs import SHA256_RE
from .db import database, is_postgres, locked
from .models import Batch, Blob, Device, Document, Page, Patient, utcnow

# `trashed`: staff at the box took the document out of use; it is kept (restorable there) but
# leaves the hub's lists and search until it comes back, or is purged (a document_removed item).
DOC_STATUSES = ("filed", "needs_review", "trashed")


class BatchError(ValueError):
    """The batch as a whole is refused (`status` 400, 409 or 413)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ItemRefused(ValueError):
    """One item cannot be applied as sent; the box sets it aside with this reason."""


class ItemNotReady(ValueError):
    """One item waits for something (its blob); the box sends it again later."""


def digest_of(body: bytes) -> str:
    """What identifies a batch's content."""
    return hashlib.sha256(body).hexdigest()


def parse(body: bytes, max_items: int, max_bytes: int) -> dict:
    """The batch document, checked for shape and bounds, or BatchError."""
    if len(body) > max_bytes:
        raise BatchError(413, "batch_too_large", f"a batch may carry at most {max_bytes} bytes")
    try:
        batch = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BatchError(400, "bad_json", "the batch is not valid JSON") from None
    if not isinstance(batch, dict) or not isinstance(batch.get("batch_id"), str) or not batch["batch_id"]:
        raise BatchError(400, "bad_batch", "a batch needs a batch_id (the box's own id for it)")
    if not isinstance(batch.get("seq"), int) or batch["seq"] < 1:
        raise BatchError(400, "bad_batch", "a batch needs seq, the box's batch counter (1, 2, ...)")
    items = batch.get("items")
    if not isinstance(items, list) or not items:
        raise BatchError(400, "bad_batch", "a batch needs a non-empty list of items")
    if len(items) > max_items:
        raise BatchError(413, "batch_too_large", f"a batch may carry at most {max_items} items")
    return batch


def _date(value, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ItemRefused(f"{field} must be a date like 2024-03-14") from None


def _text(value, field: str, required: bool = True, limit: int = 255) -> str | None:
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ItemRefused(f"{field} is required")
    if len(value) > limit:
        raise ItemRefused(f"{field} is longer than {limit} characters")
    return value.strip()


@dataclass
class PatientData:
    mrn: str
    fields: dict


@dataclass
class DocumentData:
    uid: str
    sha: str
    fields: dict
    patient: PatientData | None
    pages: list[tuple[int, str]]


@dataclass
class RemovalData:
    uid: str


AuditData = box_audit.Arrival


@dataclass
class Commit:
    """What one batch's items share: the device, which blobs the hub has, what to meter."""

    device: Device
    stored_blobs: set[str]
    pages: int = 0
    documents: int = 0


def check_patient(data) -> PatientData:
    """A patient item's data, checked, or ItemRefused."""
    if not isinstance(data, dict):
        raise ItemRefused("patient must be an object")
    return PatientData(
        mrn=_text(data.get("mrn"), "patient.mrn"),
        fields={
            "last_name": _text(data.get("last_name"), "patient.last_name"),
            "first_name": _text(data.get("first_name"), "patient.first_name"),
            "dob": _date(data.get("dob"), "patient.dob"),
        },
    )


MAX_TAGS, MAX_TAG_LENGTH, MAX_NOTE_LENGTH = 20, 40, 5000


def check_annotations(data: dict) -> dict:
    """The clinic's tags and note as document fields; only those the item carries (a box before
    tags and notes sends neither, and what the hub has stays as it is)."""
    fields: dict = {}
    if "tags" in data:
        tags = data["tags"]
        if (
            not isinstance(tags, list)
            or len(tags) > MAX_TAGS
            or not all(isinstance(t, str) and t.strip() and len(t) <= MAX_TAG_LENGTH for t in tags)
        ):
            raise ItemRefused(
                f"document.tags must be a list of at most {MAX_TAGS} words of at most {MAX_TAG_LENGTH} characters"
            )
        fields["tags"] = json.dumps(sorted({t.strip() for t in tags}))
    if "note" in data:
        fields["note"] = _text(data["note"], "document.note", required=False, limit=MAX_NOTE_LENGTH)
    return fields


def check_document(commit: Commit, data) -> DocumentData:
    """A document item's data, checked (ItemRefused), with its blob at the hub (else ItemNotReady)."""
    if not isinstance(data, dict):
        raise ItemRefused("document must be an object")
    uid = _text(data.get("uid"), "document.uid", limit=64)
    sha = str(data.get("blob_sha256") or "").lower()
    if not SHA256_RE.match(sha):
        raise ItemRefused("document.blob_sha256 must be the 64 hex digits of the original's SHA-256")
    status = data.get("status")
    if status not in DOC_STATUSES:
        raise ItemRefused(f"document.status must be one of {', '.join(DOC_STATUSES)}")
    pages = data.get("pages")
    if (
        not isinstance(pages, list)
        or not pages
        or not all(
            isinstance(p, dict) and isinstance(p.get("number"), int) and isinstance(p.get("text", ""), str)
            for p in pages
        )
    ):
        raise ItemRefused("document.pages must be a list of {number, text}")
    if len({p["number"] for p in pages}) != len(pages):
        raise ItemRefused("document.pages has the same page number twice")
    fields = {
        "status": status,
        "review_reason": _text(data.get("review_reason"), "review_reason", required=False, limit=2000),
        "doc_type": _text(data.get("doc_type"), "document.doc_type", limit=64),
        "doc_date": _date(data.get("doc_date"), "document.doc_date"),
        "page_count": len(pages),
        "blob_sha256": sha,
        "original_name": _text(data.get("original_name"), "document.original_name", limit=1000),
    }
    fields.update(check_annotations(data))
    patient = check_patient(data["patient"]) if data.get("patient") else None
    if sha not in commit.stored_blobs:
        raise ItemNotReady("the original's blob has not been uploaded yet")
    return DocumentData(uid, sha, fields, patient, sorted((p["number"], p.get("text", "")) for p in pages))


BOX_DETAIL_DROPPED = frozenset({"query"})


def check_audit(commit: Commit, event) -> AuditData:
    """A box's audit event, checked, as a row of the hub's audit log."""
    if not isinstance(event, dict):
        raise ItemRefused("event must be an object")
    try:
        at = dt.datetime.fromisoformat(str(event.get("at")))
    except ValueError:
        raise ItemRefused("event.at must be an ISO date and time") from None
    device = commit.device
    detail = event.get("detail")
    if isinstance(detail, dict):
        # Boxes before 2026-12 put the search words in their search events (queued ones still come):
        # patient data, which the hub's trail and its CSV never keep.
        detail = {name: value for name, value in detail.items() if name not in BOX_DETAIL_DROPPED}
    return AuditData(
        link=box_audit.read_link(event, at),
        key=f"{device.uid}:{_text(str(event.get('key', '')), 'event.key', limit=64)}",
        fields={
            "organisation": device.organisation_id,
            "at": at,
            "actor": f"{_text(event.get('actor'), 'event.actor', limit=200)} (box {device.name})"[:255],
            "action": _text(event.get("action"), "event.action", limit=100),
            "object_type": _text(event.get("object_type"), "event.object_type", required=False, limit=64),
            "object_id": _text(event.get("object_id"), "event.object_id", required=False, limit=64),
            "address": _text(event.get("address"), "event.address", required=False, limit=100),
            "detail": json.dumps(detail, sort_keys=True) if detail else None,
        },
    )


def check_item(commit: Commit, item) -> PatientData | DocumentData:
    """One item's data, checked, or ItemRefused / ItemNotReady."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
        raise ItemRefused("every item needs an id (the box's outbox id)")
    if item.get("type") == "document":
        return check_document(commit, item.get("document"))
    if item.get("type") == "patient":
        return check_patient(item.get("patient"))
    if item.get("type") == "document_removed":
        return RemovalData(_text(item.get("uid"), "uid", limit=64))
    if item.get("type") == "audit":
        return check_audit(commit, item.get("event"))
    raise ItemRefused(f"unknown item type {item.get('type')!r}; expected document, document_removed, patient or audit")


def stored_blobs(device: Device, items: list) -> set[str]:
    """Which of the blobs the batch's documents name are stored for the organisation (one query)."""
    named = {
        str(item["document"].get("blob_sha256", "")).lower()
        for item in items
        if isinstance(item, dict) and isinstance(item.get("document"), dict)
    }
    return {
        sha
        for (sha,) in Blob.select(Blob.sha256)
        .where((Blob.organisation == device.organisation_id) & Blob.sha256.in_(list(named)))
        .tuples()
    }


class _Fallback(Exception):
    """The bulk path cannot take this batch as it is; apply item by item instead."""


def _patients(commit: Commit, wanted: list[PatientData]) -> dict[str, int]:
    """Patient ids by MRN for `wanted`: found, brought up to date, or created (few statements)."""
    device = commit.device
    by_mrn = {p.mrn: p for p in wanted}
    existing = {
        p.mrn: p for p in Patient.select().where((Patient.clinic == device.clinic_id) & Patient.mrn.in_(list(by_mrn)))
    }
    for mrn, patient in existing.items():
        if any(getattr(patient, name) != value for name, value in by_mrn[mrn].fields.items()):
            Patient.update(updated_at=utcnow(), **by_mrn[mrn].fields).where(Patient.id == patient.id).execute()
    ids = {mrn: patient.id for mrn, patient in existing.items()}
    new = [
        {
            "organisation": device.organisation_id,
            "clinic": device.clinic_id,
            "mrn": mrn,
            "updated_at": utcnow(),
            **data.fields,
        }
        for mrn, data in by_mrn.items()
        if mrn not in existing
    ]
    if new:
        ids.update({mrn: pid for pid, mrn in Patient.insert_many(new).returning(Patient.id, Patient.mrn).tuples()})
    return ids


def _apply_bulk(commit: Commit, checked: list[tuple[int, PatientData | DocumentData]], results: list[dict]):
    """Apply checked items with a handful of statements: the usual batch of new documents."""
    if not is_postgres():
        raise _Fallback("the embedded SQLite hub applies items one by one")
    if any(isinstance(data, RemovalData) for _, data in checked):
        raise _Fallback("removals are applied one by one")
    events = [(index, data) for index, data in checked if isinstance(data, AuditData)]
    if events:
        stored = box_audit.store(commit.device, [data for _, data in events])
        for (index, _), status in zip(events, stored, strict=True):
            results[index]["status"] = status
    device = commit.device
    documents = [(index, data) for index, data in checked if isinstance(data, DocumentData)]
    if len({data.uid for _, data in documents}) != len(documents):
        raise _Fallback("the same document twice in one batch")
    patients = [data for _, data in checked if isinstance(data, PatientData)]
    patients += [data.patient for _, data in documents if data.patient is not None]
    patient_ids = _patients(commit, patients) if patients else {}
    for index, data in checked:
        if isinstance(data, PatientData):
            results[index]["status"] = "applied"
    existing = {
        d.uid: d
        for d in Document.select().where(
            (Document.organisation == device.organisation_id) & Document.uid.in_([data.uid for _, data in documents])
        )
    }
    if existing:
        raise _Fallback("documents already at the hub are compared one by one")
    if not documents:
        return
    rows = [
        {
            "organisation": device.organisation_id,
            "clinic": device.clinic_id,
            "device": device.id,
            "uid": data.uid,
            "patient": patient_ids[data.patient.mrn] if data.patient else None,
            "created_at": utcnow(),
            "updated_at": utcnow(),
            "tags": "[]",
            "note": None,
            **data.fields,
        }
        for _, data in documents
    ]
    ids = {uid: doc_id for doc_id, uid in Document.insert_many(rows).returning(Document.id, Document.uid).tuples()}
    Page.insert_many(
        [
            {"document": ids[data.uid], "organisation": device.organisation_id, "number": number, "text": text}
            for _, data in documents
            for number, text in data.pages
        ]
    ).execute()
    for index, data in documents:
        results[index]["status"] = "applied"
        commit.pages += len(data.pages)
        commit.documents += 1


def _remove(commit: Commit, data: RemovalData) -> str:
    device = commit.device
    existing = Document.get_or_none((Document.organisation == device.organisation_id) & (Document.uid == data.uid))
    if existing is None:
        return "unchanged"
    if existing.clinic_id != device.clinic_id:
        raise ItemRefused("a document with this uid belongs to another clinic")
    Page.delete().where(Page.document == existing.id).execute()
    Document.delete().where(Document.id == existing.id).execute()
    return "applied"


def _apply_one(commit: Commit, data: PatientData | DocumentData | RemovalData | AuditData) -> str:
    """Apply one checked item (the per-item path); 'applied', 'unchanged', or ItemRefused."""
    device = commit.device
    if isinstance(data, RemovalData):
        return _remove(commit, data)
    if isinstance(data, AuditData):
        return box_audit.store(device, [data])[0]
    if isinstance(data, PatientData):
        _patients(commit, [data])
        return "applied"
    patient_id = _patients(commit, [data.patient])[data.patient.mrn] if data.patient else None
    existing = Document.get_or_none((Document.organisation == device.organisation_id) & (Document.uid == data.uid))
    if existing is not None and existing.clinic_id != device.clinic_id:
        raise ItemRefused("a document with this uid belongs to another clinic")
    if existing is not None:
        wanted = {**data.fields, "patient": patient_id}
        stored = {name: existing.patient_id if name == "patient" else getattr(existing, name) for name in wanted}
        stored_pages = [(p.number, p.text) for p in existing.pages.order_by(Page.number)]
        if stored == wanted and stored_pages == data.pages:
            return "unchanged"
        Document.update(updated_at=utcnow(), patient=patient_id, **data.fields).where(
            Document.id == existing.id
        ).execute()
        Page.delete().where(Page.document == existing.id).execute()
        document_id = existing.id
    else:
        document_id = Document.create(
            organisation=device.organisation_id,
            clinic=device.clinic_id,
            device=device,
            uid=data.uid,
            patient=patient_id,
            **data.fields,
        ).id
        commit.pages += len(data.pages)
        commit.documents += 1
    Page.insert_many(
        [
            {"document": document_id, "organisation": device.organisation_id, "number": number, "text": text}
            for number, text in data.pages
        ]
    ).execute()
    return "applied"


def apply_items(commit: Commit, items: list) -> list[dict]:
    """Every item's result. Items are checked first; the valid ones go in together when they can,
    otherwise one by one, each in its own savepoint so one failure never sinks the rest."""
    results = [{"id": item.get("id") if isinstance(item, dict) else None} for item in items]
    checked = []
    for index, item in enumerate(items):
        try:
            checked.append((index, check_item(commit, item)))
        except ItemRefused as error:
            results[index].update(status="refused", error=str(error))
        except ItemNotReady as error:
            results[index].update(status="retry", error=str(error))
    try:
        with database.atomic():
            _apply_bulk(commit, checked, results)
        return results
    except (_Fallback, pw.DatabaseError):
        commit.pages = commit.documents = 0
    for index, data in checked:
        try:
            with database.atomic():
                results[index]["status"] = _apply_one(commit, data)
        except ItemRefused as error:
            results[index].update(status="refused", error=str(error))
        except pw.DatabaseError:
            results[index].update(status="retry", error="the hub could not store this item now; send it again")
    return results


def commit(device: Device, body: bytes, batch: dict) -> tuple[dict, bool]:
    """Apply a parsed batch once; return (answer, replayed)."""
    digest = digest_of(body)
    earlier = _earlier_answer(device, batch["batch_id"], digest)
    if earlier is not None:
        return earlier, True
    try:
        with database.atomic():
            current = locked(Device.select().where(Device.id == device.id)).get()
            record = Batch.create(
                device=device,
                batch_uid=batch["batch_id"],
                seq=batch["seq"],
                digest=digest,
                response="",
                items=len(batch["items"]),
            )
            commit_state = Commit(device, stored_blobs(device, batch["items"]))
            results = apply_items(commit_state, batch["items"])
            if commit_state.documents:
                billing.meter(
                    device.organisation_id, device.id, pages=commit_state.pages, documents=commit_state.documents
                )
            gap = max(0, batch["seq"] - current.last_seq - 1)
            answer = {
                "batch_id": batch["batch_id"],
                "seq": batch["seq"],
                "results": results,
                "committed_at": utcnow().isoformat() + "Z",
            }
            if gap:
                answer["gap"] = {"expected_seq": current.last_seq + 1, "missing": gap}
            Batch.update(response=json.dumps(answer)).where(Batch.id == record.id).execute()
            Device.update(
                last_seq=max(current.last_seq, batch["seq"]),
                seq_gaps=Device.seq_gaps + gap,
                last_batch_at=utcnow(),
                **_reported(batch, current),
            ).where(Device.id == device.id).execute()
    except pw.IntegrityError:
        earlier = _earlier_answer(device, batch["batch_id"], digest)
        if earlier is None:
            raise
        return earlier, True
    return answer, False


def _count(value, fallback):
    return value if isinstance(value, int) and value >= 0 else fallback


def _reported(batch: dict, current: Device) -> dict:
    """The sync state the box reported with the batch (backlog, oldest, bytes pending, last error,
    files in quarantine)."""
    status = batch.get("status") if isinstance(batch.get("status"), dict) else {}
    last_error = status.get("last_error")
    return {
        "reported_backlog": _count(batch.get("backlog"), current.reported_backlog),
        "reported_oldest_seconds": _count(status.get("oldest_unsynced_age_seconds"), None),
        "reported_bytes_pending": _count(status.get("bytes_pending"), None),
        "reported_last_error": last_error[:500] if isinstance(last_error, str) else None,
        "reported_quarantine": _count(status.get("quarantine_open"), current.reported_quarantine),
    }


def _earlier_answer(device: Device, batch_uid: str, digest: str) -> dict | None:
    record = Batch.get_or_none((Batch.device == device) & (Batch.batch_uid == batch_uid))
    if record is None:
        return None
    if record.digest != digest:
        raise BatchError(
            409,
            "batch_id_reused",
            "this batch id was already used for different content; give every new batch a new id",
        )
    return json.loads(record.response)
