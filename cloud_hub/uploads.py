"""Files uploaded at the hub (head office's manual path), read with the box's own pipeline.

The upload is kept in the staging folder and recorded; a job (RQ, or in-process without
Redis) inspects it, OCRs every page, extracts identifiers and applies the box's own filing rule
(`core.ingest.filing.decide`) against the chosen clinic's patients, with the hub's reading
settings or the clinic's own, then stores the original as a blob and records the document.
In the same transaction the document is published to the clinic's boxes (a `document.add`
change: its metadata, patient and page text; the box fetches the original when it needs it).
A file the pipeline refuses is marked refused with the reason; nothing is deleted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from core.ingest.filing import Decision, Reading, Rules, decide, read_pages
from core.ingest.pages import PageResult, PageSettings, init_process, inspect_scan, process_page
from core.ingest.rasterize import Limits, Rejected

from . import audit, billing, changes
from .blobs import record_blob
from .config import HubConfig
from .db import database
from .models import Clinic, Document, HubUpload, Organisation, Page, Patient, utcnow
from .storage import Storage, blob_key


def limits_of(config: HubConfig) -> Limits:
    """The hub's bounds on an uploaded file (pages, pixels, bytes)."""
    return Limits(
        max_pages=config.max_pages, max_page_pixels=config.max_page_pixels, max_file_bytes=config.max_file_bytes
    )


def date_order_for(config: HubConfig, clinic: Clinic) -> str:
    """The clinic's own date order, or the hub's."""
    return clinic.date_order or config.date_order


def language_for(config: HubConfig, clinic: Clinic) -> str:
    """The clinic's own OCR language, or the hub's."""
    return clinic.ocr_language or config.ocr_language


def staged_path(config: HubConfig, upload: HubUpload) -> Path:
    return config.staging_dir / "uploads" / f"{upload.id}-{upload.sha256}"


def accept(config: HubConfig, clinic: Clinic, filename: str, stream: BinaryIO, actor: str) -> HubUpload:
    """Keep an uploaded file in the staging folder and record it as queued."""
    folder = config.staging_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"incoming-{uuid.uuid4().hex}"
    digest, size = hashlib.sha256(), 0
    with open(partial, "wb") as out:
        for block in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(block)
            size += len(block)
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    with database.atomic():
        upload = HubUpload.create(
            organisation=clinic.organisation_id,
            clinic=clinic,
            original_name=filename[:255],
            sha256=digest.hexdigest(),
            size=size,
            created_by=actor,
        )
        os.replace(partial, staged_path(config, upload))
        audit.record("upload.accept", actor=actor, organisation=clinic.organisation_id, obj=upload, size=size)
    return upload


def _finish(upload: HubUpload, status: str, reason: str | None = None, document: Document | None = None):
    HubUpload.update(status=status, reason=reason, document=document, finished_at=utcnow()).where(
        HubUpload.id == upload.id
    ).execute()


class ClinicPatients:
    """One clinic's patients at the hub, as the filing rule looks them up."""

    def __init__(self, clinic: Clinic):
        self.clinic_id = clinic.id

    def _of_clinic(self):
        return Patient.select().where(Patient.clinic == self.clinic_id)

    def by_mrn(self, mrn: str) -> Patient | None:
        return self._of_clinic().where(Patient.mrn == mrn).first()

    def by_dobs(self, dobs: Sequence[dt.date]) -> list[Patient]:
        return list(self._of_clinic().where(Patient.dob.in_(list(dobs))))

    def index(self) -> list[tuple[int, str, str, str]]:
        return list(
            Patient.select(Patient.id, Patient.mrn, Patient.last_name, Patient.first_name)
            .where(Patient.clinic == self.clinic_id)
            .tuples()
        )

    def by_ids(self, ids: Sequence[int]) -> list[Patient]:
        return list(self._of_clinic().where(Patient.id.in_(list(ids))).order_by(Patient.mrn))


def filing_rules(config: HubConfig, clinic: Clinic) -> Rules:
    """The filing rule's settings for an upload to `clinic`."""
    return Rules(
        order=date_order_for(config, clinic),
        new_patients=config.new_patients,
        mrn_check=config.mrn_check,
        confident=config.id_confidence,
    )


def filing_decision(config: HubConfig, clinic: Clinic, pages: list[PageResult]) -> tuple[Reading, Decision]:
    """What the hub reads from an upload's pages and what the filing rule decides, among the clinic's patients."""
    rules = filing_rules(config, clinic)
    reading = read_pages(pages, None, rules.order)
    return reading, decide(reading, ClinicPatients(clinic), rules)


def _for_boxes(document: Document, upload: HubUpload, patient: Patient | None, pages: list[PageResult]) -> dict:
    """The `document.add` change that brings an uploaded document to its clinic's boxes."""
    return {
        "uid": document.uid,
        "status": document.status,
        "review_reason": document.review_reason,
        "doc_type": document.doc_type,
        "doc_date": str(document.doc_date) if document.doc_date else None,
        "original_name": document.original_name,
        "blob_sha256": upload.sha256,
        "size": upload.size,
        "patient": {
            "mrn": patient.mrn,
            "last_name": patient.last_name,
            "first_name": patient.first_name,
            "dob": str(patient.dob) if patient.dob else None,
        }
        if patient is not None
        else None,
        "pages": [{"number": page.number, "text": page.text} for page in pages],
    }


def process(config: HubConfig, storage: Storage, upload_id: int) -> str:
    """Read one queued upload and file it (or refuse it); its final status."""
    init_process()
    upload = HubUpload.get_by_id(upload_id)
    if upload.status != "queued":
        return upload.status
    HubUpload.update(status="processing").where(HubUpload.id == upload.id).execute()
    path = staged_path(config, upload)
    clinic = Clinic.get_by_id(upload.clinic_id)
    limits = limits_of(config)
    settings = PageSettings(
        limits=limits,
        budget=config.render_budget,
        language=language_for(config, clinic),
        timeout=config.page_timeout_seconds,
        data_dir=str(config.data_dir),
    )
    try:
        inspection = inspect_scan(str(path), upload.original_name, limits, settings.budget)
        pages = [
            process_page(str(path), upload.sha256, inspection.kind, index, settings)
            for index in range(inspection.page_count)
        ]
    except Rejected as problem:
        _finish(upload, "refused", problem.reason)
        shutil.rmtree(config.data_dir / "thumbs" / upload.sha256[:2] / upload.sha256, ignore_errors=True)
        return "refused"
    reading, decision = filing_decision(config, clinic, pages)
    extraction = reading.extraction
    organisation = Organisation.get_by_id(upload.organisation_id)
    key = blob_key(organisation.uid, upload.sha256)
    storage.put_file(key, path)
    with database.atomic():
        record_blob(organisation.id, upload.sha256, upload.size, key)
        patient = decision.patient
        if decision.new_patient:
            patient = Patient.create(organisation=organisation, clinic=upload.clinic_id, **decision.new_patient)
        document = Document.create(
            organisation=organisation,
            clinic=upload.clinic_id,
            uid=f"hub-{uuid.uuid4().hex}",
            patient=patient,
            status=decision.status,
            review_reason=decision.reason,
            doc_type=extraction.doc_type,
            doc_date=extraction.doc_date,
            page_count=len(pages),
            blob_sha256=upload.sha256,
            original_name=upload.original_name,
        )
        Page.insert_many(
            [
                {"document": document.id, "organisation": organisation.id, "number": page.number, "text": page.text}
                for page in pages
            ]
        ).execute()
        changes.publish(organisation.id, upload.clinic_id, "document.add", _for_boxes(document, upload, patient, pages))
        billing.meter(organisation.id, 0, pages=len(pages), documents=1)
        _finish(upload, decision.status, decision.reason, document)
        audit.record(
            "upload.filed", actor="hub-worker", organisation=organisation.id, obj=document, status=decision.status
        )
    path.unlink(missing_ok=True)
    shutil.rmtree(config.data_dir / "thumbs" / upload.sha256[:2] / upload.sha256, ignore_errors=True)
    return decision.status
