"""The trash: documents staff took out of use ("not a patient document", "discard") and
quarantined files an admin discarded. Nothing in the trash is deleted at once: it can be put
back until it is purged, by an admin or automatically after APPLIANCE_TRASH_DAYS. All audited.

A trashed document keeps its pages and original but leaves the review queue, search (its pages
leave the full-text index) and its patient's list; the hub learns of it as the document's status.
Purging deletes its pages, thumbnails, page images and (when nothing else uses it) the original,
and tells the hub the document is gone.
"""

from __future__ import annotations

import datetime as dt
import shutil

from . import audit, outbox
from .config import Config
from .db import database
from .ingest.intake import store_path
from .models import Document, Page, Quarantine, Scan, utcnow
from .search import index_page

REASON_LABELS = {"not_patient_document": "Not a patient document", "discarded": "Discarded"}


class TrashError(ValueError):
    """The trash action does not apply to this document or entry."""


def _index_pages(document_id: int) -> None:
    for page_id, text in (
        Page.select(Page.id, Page.text).where((Page.document == document_id) & (Page.text != "")).tuples()
    ):
        if text.strip():
            index_page(page_id, text)


def _unindex_pages(document_id: int) -> None:
    database.execute_sql(
        "DELETE FROM page_fts WHERE rowid IN (SELECT id FROM page WHERE document_id = ?)", (document_id,)
    )


def trash_document(document: Document, reason: str, actor: str, address: str | None = None) -> Document:
    """Move a document to the trash (`reason`: not_patient_document or discarded)."""
    if reason not in Document.TRASH_REASONS:
        raise TrashError(f"unknown reason {reason!r}")
    if document.status == "trashed":
        raise TrashError("this document is already in the trash")
    with database.atomic("IMMEDIATE"):
        Document.update(
            status="trashed",
            trashed_at=utcnow(),
            trashed_by=actor,
            trash_reason=reason,
            trashed_from=document.status,
            updated_at=utcnow(),
        ).where(Document.id == document.id).execute()
        _unindex_pages(document.id)
        outbox.document_changed(document)
        audit.record("document.trash", actor=actor, obj=document, address=address, reason=reason)
    return Document.get_by_id(document.id)


def restore_document(document: Document, actor: str, address: str | None = None) -> Document:
    """Put a trashed document back where it was (the review queue, or filed under its patient)."""
    if document.status != "trashed":
        raise TrashError("this document is not in the trash")
    status = document.trashed_from or "needs_review"
    if status == "filed" and document.patient_id is None:
        status = "needs_review"
    with database.atomic("IMMEDIATE"):
        Document.update(
            status=status, trashed_at=None, trashed_by=None, trash_reason=None, trashed_from=None, updated_at=utcnow()
        ).where(Document.id == document.id).execute()
        _index_pages(document.id)
        outbox.document_changed(document)
        audit.record("document.restore", actor=actor, obj=document, address=address, status=status)
    return Document.get_by_id(document.id)


def purge_due_at(trashed_at: dt.datetime, config: Config) -> dt.datetime:
    """When something trashed at `trashed_at` is purged automatically."""
    return trashed_at + dt.timedelta(days=config.trash_days)


def trashed_documents():
    """Documents in the trash, most recently trashed first."""
    return Document.select().where(Document.status == "trashed").order_by(Document.trashed_at.desc())


def discarded_entries():
    """Quarantine entries discarded and not yet purged, most recently discarded first."""
    return Quarantine.select().where(Quarantine.resolution == "discarded").order_by(Quarantine.resolved_at.desc())


def _original_unused(config: Config, sha256: str) -> bool:
    """True when no scan with this content still needs its original: a document (in the trash
    too), a quarantine entry still open or discarded, or a job not yet done."""
    in_documents = Document.select().join(Scan).where(Scan.sha256 == sha256).exists()
    in_quarantine = (
        Quarantine.select()
        .join(Scan)
        .where((Scan.sha256 == sha256) & (Quarantine.resolution.is_null() | (Quarantine.resolution == "discarded")))
        .exists()
    )
    pending = Scan.select().where((Scan.sha256 == sha256) & Scan.status.in_(("pending", "processing"))).exists()
    return not (in_documents or in_quarantine or pending)


def _remove_original(config: Config, scan: Scan) -> None:
    """Delete the scan's original and page images when nothing uses them any more; a later scan
    of the same file is then taken in as new, not as a duplicate of this one."""
    if not _original_unused(config, scan.sha256):
        return
    Scan.update(status="purged").where((Scan.sha256 == scan.sha256) & (Scan.status != "duplicate")).execute()
    store_path(config, scan.sha256).unlink(missing_ok=True)
    shutil.rmtree(config.views_dir / scan.sha256[:2] / scan.sha256, ignore_errors=True)


def purge_document(document: Document, config: Config, actor: str, address: str | None = None) -> None:
    """Delete a trashed document for good: pages, thumbnails, and the original if nothing else uses it."""
    if document.status != "trashed":
        raise TrashError("only a document in the trash can be purged")
    scan = Scan.get_by_id(document.scan_id)
    pages = list(Page.select().where(Page.document == document.id))
    with database.atomic("IMMEDIATE"):
        _unindex_pages(document.id)
        Page.delete().where(Page.document == document.id).execute()
        Document.delete().where(Document.id == document.id).execute()
        outbox.document_removed(document.uid)
        audit.record("document.purge", actor=actor, obj=document, address=address, pages=len(pages))
        if not Document.select().where(Document.scan == scan.id).exists():
            _remove_original(config, scan)
    for page in pages:
        if page.thumbnail:
            (config.data_dir / page.thumbnail).unlink(missing_ok=True)


def restore_entry(entry: Quarantine, actor: str, address: str | None = None) -> Quarantine:
    """Put a discarded quarantine entry back in quarantine."""
    if entry.resolution != "discarded":
        raise TrashError("this entry is not discarded")
    with database.atomic("IMMEDIATE"):
        Quarantine.update(resolved_at=None, resolution=None).where(Quarantine.id == entry.id).execute()
        audit.record("quarantine.restore", actor=actor, obj=entry, address=address)
    return Quarantine.get_by_id(entry.id)


def purge_entry(entry: Quarantine, config: Config, actor: str, address: str | None = None) -> None:
    """Delete a discarded entry's original for good (the entry itself stays, as `purged`)."""
    if entry.resolution != "discarded":
        raise TrashError("only a discarded entry can be purged")
    with database.atomic("IMMEDIATE"):
        Quarantine.update(resolution="purged").where(Quarantine.id == entry.id).execute()
        audit.record("quarantine.purge", actor=actor, obj=entry, address=address)
        if entry.scan_id is not None:
            _remove_original(config, Scan.get_by_id(entry.scan_id))


def purge_expired(config: Config, now: dt.datetime | None = None) -> int:
    """Purge everything trashed more than APPLIANCE_TRASH_DAYS ago; how many were purged."""
    cutoff = (now or utcnow()) - dt.timedelta(days=config.trash_days)
    documents = list(trashed_documents().where(Document.trashed_at < cutoff))
    entries = list(discarded_entries().where(Quarantine.resolved_at < cutoff))
    for document in documents:
        purge_document(document, config, actor="system")
    for entry in entries:
        purge_entry(entry, config, actor="system")
    return len(documents) + len(entries)
