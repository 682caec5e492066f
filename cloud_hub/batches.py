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

import peewee as pw

from . import billing
from .blobs import SHA256_RE
from .db import database, locked
from .models import Batch, Blob, Device, Document, Page, Patient, utcnow

DOC_STATUSES = ("filed", "needs_review")


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


def upsert_patient(device: Device, data) -> Patient:
    """The clinic's patient with this MRN, created or brought up to date."""
    if not isinstance(data, dict):
        raise ItemRefused("patient must be an object")
    mrn = _text(data.get("mrn"), "patient.mrn")
    fields = {"last_name": _text(data.get("last_name"), "patient.last_name"),
              "first_name": _text(data.get("first_name"), "patient.first_name"),
              "dob": _date(data.get("dob"), "patient.dob")}
    patient = Patient.get_or_none((Patient.clinic == device.clinic_id) & (Patient.mrn == mrn))
    if patient is None:
        return Patient.create(organisation=device.organisation_id, clinic=device.clinic_id, mrn=mrn, **fields)
    if any(getattr(patient, name) != value for name, value in fields.items()):
        Patient.update(updated_at=utcnow(), **fields).where(Patient.id == patient.id).execute()
    return Patient.get_by_id(patient.id)


def upsert_document(device: Device, data) -> str:
    """Create or update a document and its pages; 'applied' or 'unchanged'."""
    if not isinstance(data, dict):
        raise ItemRefused("document must be an object")
    uid = _text(data.get("uid"), "document.uid", limit=64)
    sha = (data.get("blob_sha256") or "").lower()
    if not SHA256_RE.match(sha):
        raise ItemRefused("document.blob_sha256 must be the 64 hex digits of the original's SHA-256")
    status = data.get("status")
    if status not in DOC_STATUSES:
        raise ItemRefused(f"document.status must be one of {', '.join(DOC_STATUSES)}")
    pages = data.get("pages")
    if not isinstance(pages, list) or not pages or not all(
            isinstance(p, dict) and isinstance(p.get("number"), int) and isinstance(p.get("text", ""), str)
            for p in pages):
        raise ItemRefused("document.pages must be a list of {number, text}")
    if len({p["number"] for p in pages}) != len(pages):
        raise ItemRefused("document.pages has the same page number twice")
    if not Blob.select().where((Blob.organisation == device.organisation_id) & (Blob.sha256 == sha)).exists():
        raise ItemNotReady("the original's blob has not been uploaded yet")
    patient = upsert_patient(device, data["patient"]) if data.get("patient") else None
    fields = {
        "patient": patient, "status": status, "review_reason": _text(data.get("review_reason"), "review_reason",
                                                                      required=False, limit=2000),
        "doc_type": _text(data.get("doc_type"), "document.doc_type", limit=64),
        "doc_date": _date(data.get("doc_date"), "document.doc_date"), "page_count": len(pages),
        "blob_sha256": sha, "original_name": _text(data.get("original_name"), "document.original_name", limit=1000),
    }
    existing = Document.get_or_none((Document.organisation == device.organisation_id) & (Document.uid == uid))
    if existing is not None and existing.clinic_id != device.clinic_id:
        raise ItemRefused("a document with this uid belongs to another clinic")
    page_rows = sorted((p["number"], p.get("text", "")) for p in pages)
    if existing is not None:
        wanted = {**fields, "patient": patient.id if patient else None}
        stored = {name: existing.patient_id if name == "patient" else getattr(existing, name) for name in fields}
        stored_pages = [(p.number, p.text) for p in existing.pages.order_by(Page.number)]
        if stored == wanted and stored_pages == page_rows:
            return "unchanged"
        Document.update(updated_at=utcnow(), **fields).where(Document.id == existing.id).execute()
        Page.delete().where(Page.document == existing.id).execute()
        document = existing
    else:
        document = Document.create(organisation=device.organisation_id, clinic=device.clinic_id, device=device,
                                   uid=uid, **fields)
        billing.meter(device.organisation_id, device.id, pages=len(page_rows), documents=1)
    Page.insert_many([{"document": document.id, "organisation": device.organisation_id, "number": number,
                       "text": text} for number, text in page_rows]).execute()
    return "applied"


def apply_item(device: Device, item) -> dict:
    """Apply one item inside a savepoint; its result for the answer."""
    item_id = item.get("id") if isinstance(item, dict) else None
    result = {"id": item_id}
    try:
        if not isinstance(item_id, str) or not item_id:
            raise ItemRefused("every item needs an id (the box's outbox id)")
        with database.atomic():
            if item.get("type") == "document":
                result["status"] = upsert_document(device, item.get("document"))
            elif item.get("type") == "patient":
                upsert_patient(device, item.get("patient"))
                result["status"] = "applied"
            else:
                raise ItemRefused(f"unknown item type {item.get('type')!r}; expected document or patient")
    except ItemRefused as error:
        result.update(status="refused", error=str(error))
    except ItemNotReady as error:
        result.update(status="retry", error=str(error))
    return result


def commit(device: Device, body: bytes, batch: dict) -> tuple[dict, bool]:
    """Apply a parsed batch once; return (answer, replayed)."""
    digest = digest_of(body)
    earlier = _earlier_answer(device, batch["batch_id"], digest)
    if earlier is not None:
        return earlier, True
    try:
        with database.atomic():
            current = locked(Device.select().where(Device.id == device.id)).get()
            record = Batch.create(device=device, batch_uid=batch["batch_id"], seq=batch["seq"], digest=digest,
                                  response="", items=len(batch["items"]))
            results = [apply_item(device, item) for item in batch["items"]]
            gap = max(0, batch["seq"] - current.last_seq - 1)
            answer = {"batch_id": batch["batch_id"], "seq": batch["seq"], "results": results,
                      "committed_at": utcnow().isoformat() + "Z"}
            if gap:
                answer["gap"] = {"expected_seq": current.last_seq + 1, "missing": gap}
            Batch.update(response=json.dumps(answer)).where(Batch.id == record.id).execute()
            backlog = batch.get("backlog")
            Device.update(
                last_seq=max(current.last_seq, batch["seq"]), seq_gaps=Device.seq_gaps + gap, last_batch_at=utcnow(),
                reported_backlog=backlog if isinstance(backlog, int) and backlog >= 0 else current.reported_backlog,
            ).where(Device.id == device.id).execute()
    except pw.IntegrityError:
        earlier = _earlier_answer(device, batch["batch_id"], digest)
        if earlier is None:
            raise
        return earlier, True
    return answer, False


def _earlier_answer(device: Device, batch_uid: str, digest: str) -> dict | None:
    record = Batch.get_or_none((Batch.device == device) & (Batch.batch_uid == batch_uid))
    if record is None:
        return None
    if record.digest != digest:
        raise BatchError(409, "batch_id_reused", "this batch id was already used for different content; "
                         "give every new batch a new id")
    return json.loads(record.response)
