"""Staff decisions on documents: metadata edits, assigning, splitting and merging. All audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from core.ingest.extract import DOC_TYPES

from . import audit, outbox
from .annotations import carry_over
from .db import database
from .models import Document, Page, Patient, utcnow


class DocumentError(ValueError):
    """The change cannot be made as asked."""


def _not_trashed(*documents: Document) -> None:
    if any(document.status == "trashed" for document in documents):
        raise DocumentError("the document is in the trash; restore it first")


def document_pages(document: Document) -> list[Page]:
    """The document's pages in reading order; blank pages (duplex backs) are kept but not shown."""
    return list(
        Page.select()
        .where((Page.document == document.id) & (Page.text_source != "blank"))
        .order_by(Page.scan, Page.number)
    )


def _refresh_page_count(document_id: int):
    numbers = [
        number
        for (number,) in Page.select(Page.number)
        .where(Page.document == document_id)
        .order_by(Page.scan, Page.number)
        .tuples()
    ]
    Document.update(page_count=len(numbers), first_page=numbers[0] if numbers else 0, updated_at=utcnow()).where(
        Document.id == document_id
    ).execute()


def update_metadata(
    document: Document,
    *,
    doc_type: str,
    doc_date: dt.date | None,
    patient: Patient | None,
    actor: str,
    address: str | None = None,
    types: Sequence[str] = DOC_TYPES,
) -> Document:
    """Correct type, date and patient (`types`: the box's document types); choosing a patient files
    the document."""
    _not_trashed(document)
    if doc_type not in types:
        raise DocumentError(f"unknown document type {doc_type!r}")
    before = {
        "doc_type": document.doc_type,
        "doc_date": str(document.doc_date) if document.doc_date else None,
        "patient": document.patient_id,
        "status": document.status,
    }
    changes = {"doc_type": doc_type, "doc_date": doc_date, "updated_at": utcnow()}
    if patient is not None and patient.id != document.patient_id:
        changes.update(patient=patient.id, status="filed", review_reason=None)
    with database.atomic():
        Document.update(**changes).where(Document.id == document.id).execute()
        outbox.document_changed(document)
        after = Document.get_by_id(document.id)
        audit.record(
            "document.edit",
            actor=actor,
            obj=document,
            address=address,
            before=before,
            after={
                "doc_type": after.doc_type,
                "doc_date": str(after.doc_date) if after.doc_date else None,
                "patient": after.patient_id,
                "status": after.status,
            },
        )
    return after


def assign(document: Document, patient: Patient, actor: str, address: str | None = None) -> Document:
    """File a document under `patient` (a staff decision resolves the review)."""
    _not_trashed(document)
    with database.atomic():
        Document.update(patient=patient.id, status="filed", review_reason=None, updated_at=utcnow()).where(
            Document.id == document.id
        ).execute()
        outbox.document_changed(document)
        # Not the review reason itself: it names what was read (patient data), and stays on the document.
        audit.record(
            "document.assign",
            actor=actor,
            obj=document,
            address=address,
            patient=patient.id,
            was_in_review=document.status == "needs_review",
        )
    return Document.get_by_id(document.id)


def split(document: Document, first_page_of_new: Page, actor: str, address: str | None = None) -> Document:
    """Cut the document before `first_page_of_new`; the pages from there on become a new document."""
    _not_trashed(document)
    pages = document_pages(document)
    ids = [p.id for p in pages]
    if first_page_of_new.id not in ids or ids.index(first_page_of_new.id) == 0:
        raise DocumentError("choose a page after the first one to split at")
    moved = ids[ids.index(first_page_of_new.id) :]
    with database.atomic():
        new = Document.create(
            scan=document.scan_id,
            status="needs_review",
            review_reason=f"split from document {document.id}",
            doc_type=document.doc_type,
            doc_date=document.doc_date,
            first_page=first_page_of_new.number,
            page_count=len(moved),
            extracted=None,
        )
        Page.update(document=new.id).where(Page.id.in_(moved)).execute()
        _refresh_page_count(document.id)
        outbox.document_changed(document)
        outbox.document_changed(new)
        audit.record(
            "document.split", actor=actor, obj=document, address=address, new_document=new.id, pages=len(moved)
        )
    return new


def merge(target: Document, source: Document, actor: str, address: str | None = None) -> Document:
    """Move every page of `source` to the end of `target` and remove `source`."""
    if target.id == source.id:
        raise DocumentError("choose a different document to merge")
    _not_trashed(target, source)
    with database.atomic():
        Page.update(document=target.id).where(Page.document == source.id).execute()
        carry_over(target, source)
        Document.delete().where(Document.id == source.id).execute()
        _refresh_page_count(target.id)
        outbox.document_changed(target)
        outbox.document_removed(source.uid)
        audit.record("document.merge", actor=actor, obj=target, address=address, merged_document=source.id)
    return Document.get_by_id(target.id)
