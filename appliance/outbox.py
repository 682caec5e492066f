"""The transactional outbox: every change the hub must learn about gets a row, written inside
the same transaction as the change itself, so a change is never recorded without its row (or
the other way round). The sync agent turns rows into batches."""

from __future__ import annotations

from .models import Document, Outbox, Patient


def document_changed(document: Document | int) -> None:
    """A document was created or changed (call inside the change's transaction)."""
    uid = document.uid if isinstance(document, Document) else Document.get_by_id(document).uid
    Outbox.create(kind="document", object_key=uid)


def document_removed(uid: str) -> None:
    """A document no longer exists on the box (merged into another)."""
    Outbox.create(kind="document_removed", object_key=uid)


def patient_changed(patient: Patient) -> None:
    """A patient was created or changed."""
    Outbox.create(kind="patient", object_key=str(patient.id))
