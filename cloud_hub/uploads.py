"""Files uploaded at the hub (head office's manual path), read with the box's own pipeline.

The upload is kept in the staging folder and recorded; a job (RQ, or in-process without
Redis) inspects it, OCRs every page, extracts identifiers and applies the same never-misfile
rule as the box against the chosen clinic's patients, then stores the original as a blob and
records the document. A file the pipeline refuses is marked refused with the reason; nothing
is deleted.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from appliance.ingest.extract import extract
from appliance.ingest.filing import decide
from appliance.ingest.pages import PageSettings, init_process, process_page
from appliance.ingest.rasterize import Limits, Rejected, inspect

from . import audit, billing
from .config import HubConfig
from .db import database
from .blobs import record_blob
from .models import Clinic, Document, HubUpload, Organisation, Page, Patient, utcnow
from .storage import Storage, blob_key

LIMITS = Limits(max_pages=300, max_page_pixels=90_000_000, max_file_bytes=500 * 1024 * 1024)
DATE_ORDER = "DMY"


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
        upload = HubUpload.create(organisation=clinic.organisation_id, clinic=clinic, original_name=filename[:255],
                                  sha256=digest.hexdigest(), size=size, created_by=actor)
        os.replace(partial, staged_path(config, upload))
        audit.record("upload.accept", actor=actor, organisation=clinic.organisation_id, obj=upload, size=size)
    return upload


def _finish(upload: HubUpload, status: str, reason: str | None = None, document: Document | None = None):
    HubUpload.update(status=status, reason=reason, document=document, finished_at=utcnow()).where(
        HubUpload.id == upload.id).execute()


def _patient_finders(clinic_id: int):
    def by_mrn(mrn):
        return Patient.get_or_none((Patient.clinic == clinic_id) & (Patient.mrn == mrn))

    def by_name_dob(name, dob):
        return list(Patient.select().where((Patient.clinic == clinic_id) & (Patient.last_name == name.last)
                                           & (Patient.first_name == name.first) & (Patient.dob == dob)))
    return by_mrn, by_name_dob


def process(config: HubConfig, storage: Storage, upload_id: int) -> str:
    """Read one queued upload and file it (or refuse it); its final status."""
    init_process()
    upload = HubUpload.get_by_id(upload_id)
    if upload.status != "queued":
        return upload.status
    HubUpload.update(status="processing").where(HubUpload.id == upload.id).execute()
    path = staged_path(config, upload)
    try:
        inspection = inspect(path, upload.original_name, LIMITS)
    except Rejected as problem:
        _finish(upload, "refused", problem.reason)
        return "refused"
    settings = PageSettings(limits=LIMITS, language="eng", timeout=120, data_dir=str(config.data_dir),
                            tmp_dir=str(config.staging_dir))
    pages = [process_page(str(path), upload.sha256, inspection.kind, index, settings)
             for index in range(inspection.page_count)]
    text = "\n\n".join(page.text for page in pages)
    extraction = extract(text, DATE_ORDER)
    decision = decide(extraction, None, *_patient_finders(upload.clinic_id), DATE_ORDER)
    organisation = Organisation.get_by_id(upload.organisation_id)
    key = blob_key(organisation.uid, upload.sha256)
    storage.put_file(key, path)
    with database.atomic():
        record_blob(organisation.id, upload.sha256, upload.size, key)
        patient = decision.patient
        if decision.new_patient:
            patient = Patient.create(organisation=organisation, clinic=upload.clinic_id, **decision.new_patient)
        document = Document.create(
            organisation=organisation, clinic=upload.clinic_id, uid=f"hub-{uuid.uuid4().hex}", patient=patient,
            status=decision.status, review_reason=decision.reason, doc_type=extraction.doc_type,
            doc_date=extraction.doc_date, page_count=len(pages), blob_sha256=upload.sha256,
            original_name=upload.original_name)
        Page.insert_many([{"document": document.id, "organisation": organisation.id, "number": page.number,
                           "text": page.text} for page in pages]).execute()
        billing.meter(organisation.id, 0, pages=len(pages), documents=1)
        _finish(upload, decision.status, decision.reason, document)
        audit.record("upload.filed", actor="hub-worker", organisation=organisation.id, obj=document,
                     status=decision.status)
    path.unlink(missing_ok=True)
    shutil.rmtree(config.data_dir / "thumbs" / upload.sha256[:2] / upload.sha256, ignore_errors=True)
    return decision.status
