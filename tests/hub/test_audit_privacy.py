"""Head office's IT sees who did what, never to whom: a clinic's day on the box, synced to the hub,
and head office's own work on the same patient leave no name, MRN or date of birth in the audit
log or its CSV that the `it` role reads, nor in the hub's log; nor does the hub worker's log while
it reads an uploaded scan of that patient."""

import io
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from appliance.models import AuditEvent as BoxAuditEvent
from appliance.sync.payloads import item_for
from cloud_hub.db import database
from cloud_hub.models import Document, HubUpload
from tests.box.test_audit_privacy import FIRST, IDENTIFIERS, LAST, MRN, clinic_day
from tests.factories import record_lines, render_page
from tests.hub_fixtures import enrol_box, file_document, sign_in

ROOT = Path(__file__).resolve().parents[2]
HUB_DOB = "1970-01-01"  # what tests.hub_fixtures.file_document files the patient with


def leaks(text: str) -> list[str]:
    return [identifier for identifier in (*IDENTIFIERS, HUB_DOB) if identifier in text]


def form_token(client, path: str) -> str:
    return client.get(path).get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]


def test_the_it_role_reads_no_patient_in_the_audit_log(box, admin_client, hub_app, tenants, people, caplog):
    caplog.set_level(logging.INFO)  # as the hub logs in production (peewee logs its SQL at DEBUG)
    clinic_day(box, admin_client)
    desk = enrol_box(hub_app, tenants["north"], name="front desk box")
    events = list(BoxAuditEvent.select().order_by(BoxAuditEvent.id))
    batch = {"batch_id": uuid.uuid4().hex, "seq": 1, "items": [item_for("audit", str(e.id))[0] for e in events]}
    results = desk.post_json("/api/v1/sync/batches", batch).get_json()["results"]
    assert {r["status"] for r in results} == {"applied"}

    uid = file_document(desk, f"Referral for {FIRST} {LAST}, MRN {MRN}", MRN, last_name=LAST)
    with database.connection_context():
        document = Document.get(Document.uid == uid)
    admin = sign_in(hub_app, "admin@acme.test")
    assert LAST in admin.get(f"/documents/{document.id}").get_data(as_text=True)
    admin.get(f"/search?q={LAST}")
    admin.get(f"/api/v1/patients?q={MRN}")
    admin.get(f"/api/v1/patients/{document.patient_id}")
    admin.get(f"/api/v1/storage/documents/{document.id}/original")

    it = sign_in(hub_app, "it@acme.test")
    page = it.get("/audit").get_data(as_text=True)
    exported = it.get("/audit.csv").get_data(as_text=True)
    assert "document.assign" in exported and "patient.view" in exported and "(box front desk box)" in exported
    assert leaks(page) == [] and leaks(exported) == []
    assert leaks(caplog.text) == []


@pytest.mark.ocr
def test_the_hub_worker_log_of_a_real_scan_names_no_patient(hub_app, hub_config, tenants, people):
    """An upload named after the patient, read by `python -m cloud_hub worker`: the worker's output
    names the job, never the patient."""
    admin = sign_in(hub_app, "admin@acme.test")
    buffer = io.BytesIO()
    lines = record_lines(mrn=MRN, name=f"{LAST.upper()}, {FIRST}", dob="10/12/1985")
    render_page(lines, noise=0.0003).save(buffer, format="PNG", dpi=(300, 300))
    answer = admin.post(
        "/upload",
        data={
            "csrf_token": form_token(admin, "/upload"),
            "clinic_id": tenants["north"].id,
            "files": [(io.BytesIO(buffer.getvalue()), f"{LAST}_{FIRST}_{MRN}.png")],
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302
    env = dict(
        os.environ,
        DATABASE_URL=hub_config.database_url,
        REDIS_URL=hub_config.redis_url,
        S3_BUCKET=hub_config.s3_bucket,
        S3_ENDPOINT_URL=hub_config.s3_endpoint_url,
        S3_REGION=hub_config.s3_region,
        HUB_DATA_DIR=str(hub_config.data_dir),
    )
    worked = subprocess.run(
        [sys.executable, "-m", "cloud_hub", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worked.returncode == 0, worked.stderr
    with database.connection_context():
        upload = HubUpload.get()
        assert upload.status == "filed" and Document.get_by_id(upload.document_id).patient.mrn == MRN
    assert "ocr_upload_job" in worked.stdout + worked.stderr  # the log does speak, by job and ids
    assert leaks(worked.stdout + worked.stderr) == []


def test_search_words_an_older_box_sent_are_withheld_from_the_audit_pages(hub_app, tenants, people):
    """Boxes before this release put a search's words and a review reason in their audit events;
    those events stay stored as they came, and IT's pages and CSV withhold that detail."""
    desk = enrol_box(hub_app, tenants["north"], name="front desk box")
    old = [
        ("search", {"query": f"{LAST} {FIRST} 1985", "results": 2}),
        ("document.assign", {"patient": 7, "previous_reason": f"no MRN found; read: name {LAST.upper()}, {FIRST}"}),
    ]
    items = [
        {
            "id": f"audit:{n}",
            "type": "audit",
            "event": {"key": str(n), "at": "2026-11-01T09:00:00", "actor": "bob", "action": action, "detail": detail},
        }
        for n, (action, detail) in enumerate(old, start=1)
    ]
    answer = desk.post_json("/api/v1/sync/batches", {"batch_id": uuid.uuid4().hex, "seq": 1, "items": items})
    assert [r["status"] for r in answer.get_json()["results"]] == ["applied", "applied"]
    it = sign_in(hub_app, "it@acme.test")
    page, exported = it.get("/audit").get_data(as_text=True), it.get("/audit.csv").get_data(as_text=True)
    assert leaks(page) == [] and leaks(exported) == []
    assert "withheld: patient data" in exported and '""results"": 2' in exported
