"""Writing a processed scan's outcome: pages, documents, patients, search index, audit.

Everything for one scan is committed in one transaction, so a crash leaves either nothing
(the job runs again) or the whole outcome.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from core.ingest.filing import Decision, Reading, Rules, decide, read_pages
from core.ingest.pages import PageResult
from core.ingest.separators import Segment, Separator, page_separator, split

from .. import audit, box_settings, outbox, word_boxes
from ..config import Config
from ..db import database
from ..models import Document, Job, Page, Patient, Quarantine, Scan, utcnow
from ..search import index_page

log = logging.getLogger(__name__)


def quarantine_scan(scan: Scan, reason: str, detail: str | None = None) -> Quarantine:
    """Quarantine a scan with a reason; its original stays in the store."""
    with database.atomic("IMMEDIATE"):
        Scan.update(status="quarantined").where(Scan.id == scan.id).execute()
        Job.update(state="done", finished_at=utcnow(), owner=None, last_error=reason).where(
            Job.scan == scan.id
        ).execute()
        entry = Quarantine.create(scan=scan.id, original_name=scan.original_name, reason=reason, detail=detail)
        audit.record("quarantine.add", obj=entry, scan=scan.id, reason=reason)
    log.warning("scan %s quarantined: %s", scan.id, reason)
    return entry


class BoxPatients:
    """The box's patients, as the filing rule looks them up."""

    def by_mrn(self, mrn: str) -> Patient | None:
        return Patient.get_or_none(Patient.mrn == mrn)

    def by_dobs(self, dobs: Sequence[dt.date]) -> list[Patient]:
        return list(Patient.select().where(Patient.dob.in_(list(dobs))))

    def index(self) -> list[tuple[int, str, str, str]]:
        return list(Patient.select(Patient.id, Patient.mrn, Patient.last_name, Patient.first_name).tuples())

    def by_ids(self, ids: Sequence[int]) -> list[Patient]:
        return list(Patient.select().where(Patient.id.in_(list(ids))).order_by(Patient.mrn))


def filing_rules(config: Config) -> Rules:
    """The filing rule's settings on this box: a register once imported means no patients from OCR."""
    policy = config.new_patients
    if policy == "auto":
        policy = "never" if box_settings.register_imported() else "confident"
    return Rules(
        order=config.date_order, new_patients=policy, mrn_check=config.mrn_check, confident=config.id_confidence
    )


def filing_decision(
    pages: list[PageResult], separator: Separator | None, config: Config, rules, problems: list[str]
) -> tuple[Reading, Decision]:
    """What the box reads from one document's pages and what the filing rule decides for it."""
    reading = read_pages(pages, separator, config.date_order, rules, problems)
    return reading, decide(reading, BoxPatients(), filing_rules(config))


def _segments(results: list[PageResult]) -> tuple[list[Segment], list]:
    separators = [page_separator(r.barcodes, r.text) for r in results]
    return split(separators), separators


def _file_segment(
    scan: Scan, segment: Segment, results: list[PageResult], config: Config, rules, problems: list[str]
) -> Document:
    pages = [results[i] for i in segment.pages]
    reading, decision = filing_decision(pages, segment.separator, config, rules, problems)
    extraction = reading.extraction
    status, reason, patient = decision.status, decision.reason, decision.patient
    if decision.new_patient:
        patient = Patient.create(**decision.new_patient, source="ingest")
        audit.record("patient.create", obj=patient, source="ingest", scan=scan.id)
        outbox.patient_changed(patient)
    doc_type = extraction.doc_type
    if segment.separator is not None and segment.separator.doc_type in (*rules, "other"):
        doc_type = segment.separator.doc_type
    details = extraction.as_dict()
    if segment.separator is not None:
        details["separator"] = segment.separator.payload
    details["read"] = decision.read
    details["filing_notes"] = decision.notes
    details["candidates"] = [p.id for p in decision.candidates]
    document = Document.create(
        scan=scan.id,
        patient=patient if status == "filed" else None,
        status=status,
        review_reason=reason,
        doc_type=doc_type,
        doc_date=extraction.doc_date,
        first_page=pages[0].number,
        page_count=len(pages),
        extracted=details,
    )
    # The reason names what was read (patient data): it stays on the document, not in the audit trail.
    audit.record(f"document.{status}", obj=document, scan=scan.id)
    return document


def _queue_for_hub(documents: list[Document]):
    for document in documents:
        outbox.document_changed(document)


def record_scan(scan: Scan, results: list[PageResult], config: Config, rules) -> list[Document]:
    """Split the scan at separator sheets, decide each document's filing, and commit it all."""
    results = sorted(results, key=lambda r: r.number)
    segments, separators = _segments(results)
    problems = []
    lone_separators = not segments
    if lone_separators:
        segments = [Segment(pages=list(range(len(results))))]
        problems.append("the scan holds only separator or cover sheets")
    with database.atomic("IMMEDIATE"):
        documents = [_file_segment(scan, seg, results, config, rules, problems) for seg in segments]
        owner = {index: doc for seg, doc in zip(segments, documents, strict=True) for index in seg.pages}
        for index, result in enumerate(results):
            document = owner.get(index)
            page = Page.create(
                scan=scan.id,
                document=document,
                number=result.number,
                text=result.text,
                text_source=result.text_source,
                confidence=result.confidence,
                rotation=result.rotation,
                is_separator=separators[index] is not None and not lone_separators,
                thumbnail=result.thumbnail,
                problem=result.problem,
                word_boxes=word_boxes.pack(result.words, result.image_size),
            )
            if document is not None and result.text.strip():
                index_page(page.id, result.text)
        _queue_for_hub(documents)
        Scan.update(status="processed", page_count=len(results)).where(Scan.id == scan.id).execute()
        Job.update(state="done", finished_at=utcnow(), owner=None, pages_done=len(results)).where(
            Job.scan == scan.id
        ).execute()
    return [Document.get_by_id(d.id) for d in documents]
