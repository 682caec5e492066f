"""Documents head office uploaded at the hub for this clinic (`document.add` changes), recorded on
the box: a scan, a document and its pages with the hub's text, searchable at once. The original
is not sent with the change: the scan is recorded as not in the store yet, and the first time
someone opens a page or downloads it, `retention.original_path` fetches it from the hub (hash
checked, written sealed on an encrypted box).

Applied twice is applied once: a document whose uid the box has is left as it is. The filing
rule still holds on the box: a document the hub filed to an MRN the box knows under another
name or date of birth goes to the review queue instead of to that patient.
"""

from __future__ import annotations

import datetime as dt

from appliance import audit
from appliance.db import database
from appliance.models import Document, Page, Patient, Scan, utcnow
from appliance.search import index_page

TEXT_SOURCE = "hub"


def _date(value) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _patient(sent: dict | None) -> tuple[Patient | None, str | None]:
    """The box's patient for the hub's, and why the document must be reviewed instead (if so)."""
    if not sent:
        return None, None
    dob = _date(sent.get("dob"))
    patient = Patient.get_or_none(Patient.mrn == sent["mrn"])
    if patient is None:
        if dob is None:
            return None, f"filed at the hub to MRN {sent['mrn']}, unknown on this box and without a date of birth"
        return Patient.create(
            mrn=sent["mrn"], last_name=sent["last_name"], first_name=sent["first_name"], dob=dob, source="hub"
        ), None
    if patient.last_name.casefold() != sent["last_name"].casefold() or (dob is not None and patient.dob != dob):
        return None, f"filed at the hub to MRN {sent['mrn']}, which this box holds under another name or date of birth"
    return patient, None


def apply_hub_document(payload: dict) -> str:
    """Record a document uploaded at the hub; 'applied', or 'unchanged' when the box has it."""
    if Document.select().where(Document.uid == payload["uid"]).exists():
        return "unchanged"
    pages = sorted(payload["pages"], key=lambda page: page["number"])
    sha = payload["blob_sha256"]
    patient, doubt = _patient(payload.get("patient"))
    with database.atomic():
        kept = Scan.select().where((Scan.sha256 == sha) & Scan.evicted_at.is_null()).exists()
        scan = Scan.create(
            sha256=sha,
            original_name=payload["original_name"],
            source="hub",
            size=payload["size"],
            status="processed",
            page_count=len(pages),
            evicted_at=None if kept else utcnow(),
        )
        document = Document.create(
            uid=payload["uid"],
            scan=scan,
            patient=patient,
            status="needs_review" if doubt or patient is None else payload["status"],
            review_reason=doubt or payload.get("review_reason"),
            doc_type=payload["doc_type"],
            doc_date=_date(payload.get("doc_date")),
            first_page=1,
            page_count=len(pages),
        )
        for sent in pages:
            page = Page.create(
                scan=scan, document=document, number=sent["number"], text=sent["text"], text_source=TEXT_SOURCE
            )
            if sent["text"].strip():
                index_page(page.id, sent["text"])
        audit.record(
            "document.from_hub",
            actor="head office",
            obj=document,
            scan=scan.id,
            pages=len(pages),
            status=document.status,
        )
    return "applied"
