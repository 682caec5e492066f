"""What `process` prints for each file: one JSON-ready dict per file."""

from __future__ import annotations

from .ingest.intake import Intake
from .models import Document, Page, Quarantine, Scan


def _document_fields(document: Document) -> dict:
    patient = document.patient.as_dict() if document.patient_id else None
    return {
        "status": document.status,
        "document_id": document.id,
        "patient": patient,
        "doc_type": document.doc_type,
        "doc_date": document.doc_date.isoformat() if document.doc_date else None,
        "pages": document.page_count,
        "reason": document.review_reason,
        "notes": (document.extracted or {}).get("notes", []),
    }


def _texts(scan: Scan) -> list[str]:
    return [page.text for page in Page.select().where(Page.scan == scan.id).order_by(Page.number)]


def file_report(file: str, intake: Intake, with_text: bool = False) -> dict:
    """The outcome for one file given to `process`."""
    report = {
        "file": file,
        "status": "quarantined",
        "document_id": None,
        "sha256": None,
        "patient": None,
        "doc_type": None,
        "doc_date": None,
        "pages": 0,
        "reason": None,
        "notes": [],
    }
    if intake.scan is None:
        report["reason"] = intake.reason
        return _with_text(report, [], with_text)
    scan = Scan.get_by_id(intake.scan.id)
    report["sha256"] = scan.sha256
    source = scan.duplicate_of if scan.status == "duplicate" else scan
    if source.status == "quarantined":
        entry = Quarantine.select().where(Quarantine.scan == source.id).order_by(Quarantine.id.desc()).first()
        report["reason"] = entry.reason if entry else None
        report["pages"] = source.page_count or 0
    documents = list(source.documents.order_by(Document.first_page))
    if documents:
        report.update(_document_fields(documents[0]))
        if any(d.status == "needs_review" for d in documents):
            report["status"] = "needs_review"
            report["reason"] = "; ".join(d.review_reason for d in documents if d.review_reason)
        if len(documents) > 1:
            report["documents"] = [_document_fields(d) for d in documents]
            report["pages"] = source.page_count
    if scan.status == "duplicate":
        report["status"] = "duplicate"
        report["reason"] = f"same content as scan {source.id} ({source.original_name}), already recorded"
    return _with_text(report, _texts(source), with_text)


def _with_text(report: dict, texts: list[str], with_text: bool) -> dict:
    if with_text:
        report["text"] = texts
    return report


def describe(report: dict) -> str:
    """A one-line human summary of a file's outcome."""
    parts = [f"{report['file']}: {report['status']}"]
    if report.get("patient"):
        patient = report["patient"]
        parts.append(f"-> {patient['name']} (MRN {patient['mrn']})")
    if report.get("doc_type"):
        parts.append(report["doc_type"])
    if report.get("doc_date"):
        parts.append(report["doc_date"])
    if report.get("pages"):
        parts.append(f"{report['pages']} page(s)")
    if report.get("reason"):
        parts.append(f"[{report['reason']}]")
    return " ".join(parts)
