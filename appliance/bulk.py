"""One decision for many documents: set their type, file them under a patient (and, once the
trash exists, move them to it). Each document is changed and audited as if edited alone, all in
one transaction, with one summary event for the whole action."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import audit
from .db import database
from .documents import DocumentError, update_metadata
from .models import Document, Patient
from .trash import TrashError, trash_document

MAX_DOCUMENTS = 500


class BulkError(ValueError):
    """The bulk action cannot be done as asked."""


def set_type(documents: Sequence[Document], *, doc_type: str, actor: str, address: str | None, types) -> None:
    """Give every document `doc_type` (date and patient kept)."""
    for document in documents:
        if document.doc_type != doc_type:
            update_metadata(
                document,
                doc_type=doc_type,
                doc_date=document.doc_date,
                patient=None,
                actor=actor,
                address=address,
                types=types,
            )


def set_patient(documents: Sequence[Document], *, patient: Patient, actor: str, address: str | None, types) -> None:
    """File every document under `patient` (type and date kept)."""
    for document in documents:
        if document.patient_id != patient.id:
            update_metadata(
                document,
                doc_type=document.doc_type,
                doc_date=document.doc_date,
                patient=patient,
                actor=actor,
                address=address,
                types=types,
            )


def move_to_trash(documents: Sequence[Document], *, actor: str, address: str | None, **_) -> None:
    """Move every document to the trash (restorable for APPLIANCE_TRASH_DAYS), each audited."""
    for document in documents:
        if document.status != "trashed":
            trash_document(document, "discarded", actor, address)


# The bulk actions offered, by form value.
ACTIONS: dict[str, Callable[..., None]] = {"set_type": set_type, "set_patient": set_patient, "trash": move_to_trash}


def chosen_documents(ids: Sequence[int]) -> list[Document]:
    """The documents picked on a list, each once, in the order of their ids (BulkError if none or
    too many, or one is gone)."""
    wanted = sorted(set(ids))
    if not wanted:
        raise BulkError("choose at least one document")
    if len(wanted) > MAX_DOCUMENTS:
        raise BulkError(f"choose at most {MAX_DOCUMENTS} documents at a time")
    documents = list(Document.select().where(Document.id.in_(wanted)).order_by(Document.id))
    if len(documents) != len(wanted):
        raise BulkError("a chosen document no longer exists; reload the page")
    return documents


def apply(action: str, ids: Sequence[int], *, actor: str, address: str | None = None, **options) -> int:
    """Do `action` to the documents with `ids`, all or none; how many documents it covered."""
    if action not in ACTIONS:
        raise BulkError(f"unknown bulk action {action!r}")
    documents = chosen_documents(ids)
    try:
        with database.atomic():
            ACTIONS[action](documents, actor=actor, address=address, **options)
            audit.record("document.bulk", actor=actor, address=address, bulk=action, documents=len(documents))
    except (DocumentError, TrashError) as error:
        raise BulkError(str(error)) from error
    return len(documents)
