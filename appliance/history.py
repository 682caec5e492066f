"""A document's own history, read from the audit trail: who received, filed, moved, edited,
viewed and downloaded it, newest first, in words."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee as pw

from .models import AuditEvent, Document, Patient

LIMIT = 200

WORDS = {
    "scan.receive": "Received the file",
    "scan.duplicate": "Received the same file again",
    "document.filed": "Filed automatically",
    "document.needs_review": "Sent to review",
    "document.assign": "Filed under a patient",
    "document.edit": "Edited the details",
    "document.view": "Viewed",
    "document.download": "Downloaded the original",
    "document.split": "Split",
    "document.merge": "Merged another document into this one",
    "document.annotate": "Changed the tags or the note",
}


@dataclass
class Entry:
    at: dt.datetime
    actor: str
    what: str
    details: list[str]


def type_label(value: str) -> str:
    """A document type as the pages show it: lab_report → Lab report."""
    return value.replace("_", " ").capitalize() or "none"


def _patient_name(patient_id) -> str:
    patient = Patient.get_or_none(Patient.id == patient_id) if patient_id else None
    return patient.display_name if patient else "no patient"


def _edit_details(detail: dict) -> list[str]:
    before, after = detail.get("before") or {}, detail.get("after") or {}
    lines = []
    if before.get("doc_type") != after.get("doc_type"):
        lines.append(f"type {type_label(before.get('doc_type') or '')} → {type_label(after.get('doc_type') or '')}")
    if before.get("doc_date") != after.get("doc_date"):
        lines.append(f"date {before.get('doc_date') or 'none'} → {after.get('doc_date') or 'none'}")
    if before.get("patient") != after.get("patient"):
        lines.append(f"moved from {_patient_name(before.get('patient'))} to {_patient_name(after.get('patient'))}")
    return lines or ["nothing changed"]


def _details(event: AuditEvent, document_id: int) -> tuple[str, list[str]]:
    detail = event.detail or {}
    what = WORDS.get(event.action) or event.action.split(".")[-1].replace("_", " ").capitalize()
    if event.action == "document.edit":
        return what, _edit_details(detail)
    if event.action == "document.download" and detail.get("format") == "searchable_pdf":
        return "Downloaded as a searchable PDF", []
    if event.action == "patient.export_chart":
        return "Exported in the patient's chart", [f"purpose: {str(detail.get('purpose', '')).replace('_', ' ')}"]
    if event.action == "document.assign":
        return what, [_patient_name(detail.get("patient"))]
    if event.action == "document.split" and detail.get("new_document") == document_id:
        return f"Split from document #{event.object_id}", [f"{detail.get('pages')} page(s)"]
    if event.action == "document.split":
        return what, [f"{detail.get('pages')} page(s) became document #{detail.get('new_document')}"]
    if event.action == "document.merge":
        return what, [f"document #{detail.get('merged_document')}"]
    if event.action == "document.annotate":
        return what, [f"{detail.get('tags', 0)} tag(s)", f"note {detail.get('note', 'unchanged')}"]
    if event.action == "scan.receive":
        return what, [f"from {detail.get('source')}"] if detail.get("source") else []
    return what, []


def document_history(document: Document, limit: int = LIMIT) -> tuple[list[Entry], bool]:
    """The events about the document and its scan, newest first (at most `limit`), and whether
    there were more."""
    about = ((AuditEvent.object_type == "document") & (AuditEvent.object_id == str(document.id))) | (
        (AuditEvent.object_type == "scan") & (AuditEvent.object_id == str(document.scan_id))
    )
    split_off = (AuditEvent.action == "document.split") & (
        pw.fn.json_extract(AuditEvent.detail, "$.new_document") == document.id
    )
    listed = pw.NodeList(
        (
            pw.SQL("EXISTS (SELECT 1 FROM json_each("),
            AuditEvent.detail,
            pw.SQL(", '$.documents') WHERE value = ?)", [document.id]),
        ),
        glue="",
    )
    in_a_chart = (AuditEvent.action == "patient.export_chart") & listed
    events = list(
        AuditEvent.select().where(about | split_off | in_a_chart).order_by(AuditEvent.id.desc()).limit(limit + 1)
    )
    entries = []
    for event in events[:limit]:
        what, details = _details(event, document.id)
        entries.append(Entry(at=event.at, actor=event.actor, what=what, details=details))
    return entries, len(events) > limit
