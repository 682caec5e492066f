"""Handing documents over as PDFs: one document as a searchable PDF/A-2b, or a patient's chart
(chosen documents or all, within dates) as one PDF with a cover page and a bookmark a document.

Pages are rendered from the original (decrypted in memory on an encrypted box) turned and
levelled as they were read, and the text layer is placed from the OCR word boxes kept at intake:
no second OCR pass, and nothing plain written to disk. Both are audited: a download, a disclosure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from core.ingest.pdf_pages import render_for_pdf
from core.ingest.rasterize import Limits
from core.ingest.word_boxes import read_word_boxes
from core.searchable_pdf import Cover, PdfPage, Section, chart_pdf, pdf_page, searchable_pdf

from . import at_rest, audit
from .config import Config
from .documents import document_pages
from .models import Document, Patient, utcnow
from .patients import patient_documents
from .sync.retention import original_path

CHART_MAX_PAGES = 400  # one request renders them all in memory; a larger chart is split by dates
PURPOSES = {
    "patient_request": "Request by the patient",
    "referral": "Referral or continuing care",
    "legal": "Legal or insurance request",
    "other": "Other",
}


class ExportError(ValueError):
    """The chart asked for cannot be made (nothing chosen, too large); the message says why."""


def type_label(doc_type: str) -> str:
    """A document type as the UI shows it."""
    return doc_type.replace("_", " ").capitalize()


def document_date(document: Document) -> dt.date:
    """The date a document is listed under: the one read from it, else the day it was received."""
    return document.doc_date or document.scan.received_at.date()


def pdf_pages(config: Config, document: Document) -> list[PdfPage]:
    """The document's pages (blank backs left out) with their text layers, in reading order."""
    scan = document.scan
    pages = document_pages(document)
    if not pages:
        return []
    sealing = at_rest.sealing()
    boxes = [read_word_boxes(config.data_dir, scan.sha256, page.number, sealing) for page in pages]
    wanted = [(page.number, page.rotation, kept.skew if kept else 0.0) for page, kept in zip(pages, boxes, strict=True)]
    limits = Limits(config.max_pages, config.max_page_pixels, config.max_file_bytes)
    printed = render_for_pdf(original_path(config, scan), wanted, limits, config.render_budget, sealing)
    return [pdf_page(image, page.text, kept) for image, page, kept in zip(printed, pages, boxes, strict=True)]


def document_title(document: Document) -> str:
    """A document's title in a PDF: type, date and number."""
    return f"{type_label(document.doc_type)} {document_date(document).isoformat()} (document {document.id})"


def document_pdf(config: Config, document: Document, actor: str, address: str | None = None) -> bytes:
    """The document as a searchable PDF/A-2b, audited as a download."""
    pages = pdf_pages(config, document)
    body = searchable_pdf(pages, document_title(document), actor)
    audit.record(
        "document.download", actor=actor, obj=document, address=address, format="searchable_pdf", pages=len(pages)
    )
    return body


def chart_documents(
    patient: Patient, start: dt.date | None, end: dt.date | None, chosen: Sequence[int] = ()
) -> list[Document]:
    """The patient's documents for a chart, oldest first: the chosen ones (all when none are),
    dated within start..end (either open)."""
    documents = [
        d
        for d in patient_documents(patient)
        if (not chosen or d.id in chosen)
        and (start is None or document_date(d) >= start)
        and (end is None or document_date(d) <= end)
    ]
    return sorted(documents, key=lambda d: (document_date(d), d.id))


def _date_range(start: dt.date | None, end: dt.date | None) -> str:
    if start is None and end is None:
        return "all dates"
    return f"{start.isoformat() if start else 'the first document'} to {end.isoformat() if end else 'today'}"


def export_chart(
    config: Config,
    patient: Patient,
    documents: Sequence[Document],
    start: dt.date | None,
    end: dt.date | None,
    purpose: str,
    actor: str,
    address: str | None = None,
) -> bytes:
    """The documents as one searchable PDF/A-2b chart with a cover page and a bookmark a document,
    audited as a disclosure (ids and counts only). Raises ExportError."""
    if not documents:
        raise ExportError("no documents match: choose documents or widen the dates")
    if purpose not in PURPOSES:
        raise ExportError("choose the purpose of the disclosure")
    page_count = sum(d.page_count for d in documents)
    if page_count > CHART_MAX_PAGES:
        raise ExportError(f"{page_count} pages is over the {CHART_MAX_PAGES} a chart may hold: export fewer dates")
    sections = [Section(document_title(d), pdf_pages(config, d)) for d in documents]
    now = utcnow()
    cover = Cover(
        "Patient chart",
        [
            ("Patient", patient.display_name),
            ("MRN", patient.mrn),
            ("Date of birth", patient.dob.isoformat()),
            ("Dates", _date_range(start, end)),
            ("Documents", f"{len(documents)} ({sum(len(s.pages) for s in sections)} pages)"),
            ("Purpose", PURPOSES[purpose]),
            ("Exported by", actor),
            ("Exported at", f"{now:%Y-%m-%d %H:%M} UTC"),
        ],
    )
    body = chart_pdf(cover, sections, f"Chart of {patient.display_name}", actor)
    audit.record(
        "patient.export_chart",
        actor=actor,
        obj=patient,
        address=address,
        documents=[d.id for d in documents],
        document_count=len(documents),
        pages=sum(len(s.pages) for s in sections),
        purpose=purpose,
    )
    return body
