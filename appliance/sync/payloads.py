"""Batch items made from the box's current state (the outbox row says what changed, not how)."""

from __future__ import annotations

from appliance.annotations import annotations_of
from appliance.models import AuditEvent, Document, Page, Patient, Scan


def patient_json(patient: Patient) -> dict:
    return {
        "mrn": patient.mrn,
        "last_name": patient.last_name,
        "first_name": patient.first_name,
        "dob": patient.dob.isoformat() if patient.dob else None,
    }


def document_item(item_id: str, document: Document, scan: Scan) -> dict:
    pages = (
        Page.select(Page.number, Page.text)
        .where((Page.document == document) & (Page.text_source != "blank"))
        .order_by(Page.number)
    )
    annotations = annotations_of(document)
    return {
        "id": item_id,
        "type": "document",
        "document": {
            "uid": document.uid,
            "status": document.status,
            "review_reason": document.review_reason,
            "doc_type": document.doc_type,
            "doc_date": document.doc_date.isoformat() if document.doc_date else None,
            "original_name": scan.original_name,
            "blob_sha256": scan.sha256,
            "patient": patient_json(document.patient) if document.patient is not None else None,
            "pages": [{"number": page.number, "text": page.text} for page in pages],
            "tags": annotations.tags,
            "note": annotations.note,
        },
    }


def item_for(kind: str, key: str) -> tuple[dict | None, Scan | None]:
    """The batch item for an outbox entry, and the scan whose original it needs (if any)."""
    item_id = f"{kind}:{key}"
    if kind == "document":
        document = Document.get_or_none(Document.uid == key)
        if document is None:
            return {"id": item_id, "type": "document_removed", "uid": key}, None
        scan = Scan.get_by_id(document.scan_id)
        return document_item(item_id, document, scan), scan
    if kind == "document_removed":
        if Document.select().where(Document.uid == key).exists():
            return None, None
        return {"id": item_id, "type": "document_removed", "uid": key}, None
    if kind == "audit":
        event = AuditEvent.get_or_none(AuditEvent.id == int(key))
        if event is None:
            return None, None
        return {
            "id": item_id,
            "type": "audit",
            "event": {
                "key": key,
                "at": event.at.isoformat(),
                "actor": event.actor,
                "action": event.action,
                "object_type": event.object_type,
                "object_id": event.object_id,
                "address": event.address,
                "detail": event.detail,
                "prev_hash": event.prev_hash,
                "hash": event.hash,
            },
        }, None
    if kind == "patient":
        patient = Patient.get_or_none(Patient.id == int(key))
        if patient is None:
            return None, None
        return {"id": item_id, "type": "patient", "patient": patient_json(patient)}, None
    return None, None
