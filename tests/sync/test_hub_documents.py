"""Documents uploaded at the hub reach their clinic's box: a real box and the real hub under
gunicorn (PostgreSQL, Redis, the S3 server process); the hub reads the upload with real OCR."""

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.documents import update_metadata
from appliance.ingest.intake import store_path
from appliance.models import AuditEvent as BoxAuditEvent
from appliance.models import Document as BoxDocument
from appliance.models import Patient as BoxPatient
from appliance.models import Scan
from appliance.search import search_documents
from appliance.sync import state as sync_state
from appliance.sync.hub_documents import apply_hub_document
from appliance.sync.retention import original_path
from cloud_hub import uploads
from cloud_hub.db import database as hub_database
from cloud_hub.devices import issue_enrolment_token
from cloud_hub.models import Document as HubDocument
from cloud_hub.storage import storage_for
from tests.factories import record_lines, render_page

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.ocr


def sync_cli(box_config, *args):
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(box_config.data_dir), APPLIANCE_INBOX=str(box_config.inbox))
    return subprocess.run(
        [sys.executable, "-m", "appliance.sync", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def upload_at_hub(hub_config, clinic, name: str, lines) -> tuple[bytes, HubDocument]:
    scan = io.BytesIO()
    render_page(lines, noise=0.0003).save(scan, format="PNG", dpi=(300, 300))
    with hub_database.connection_context():
        upload = uploads.accept(hub_config, clinic, name, io.BytesIO(scan.getvalue()), "admin@acme.test")
        uploads.process(hub_config, storage_for(hub_config), upload.id)
        return scan.getvalue(), HubDocument.get(HubDocument.original_name == name)


def enrol(box_config, served_hub, clinic):
    with hub_database.connection_context():
        token, _ = issue_enrolment_token(clinic, created_by="test", hours=1)
    enrolled = sync_cli(box_config, "enrol", "--hub", served_hub, "--token", token, "--name", "North desk")
    assert enrolled.returncode == 0, enrolled.stderr


def test_a_document_uploaded_at_the_hub_is_pulled_by_its_clinics_box_once(box, served_hub, hub_config, tenants, people):
    enrol(box, served_hub, tenants["north"])
    original, at_hub = upload_at_hub(
        hub_config, tenants["north"], "okafor.png", record_lines(mrn="44556677", name="OKAFOR, Ada", dob="02/03/1961")
    )
    upload_at_hub(
        hub_config, tenants["south"], "south.png", record_lines(mrn="9900", name="ROE, Jan", dob="01/01/1950")
    )
    assert at_hub.status == "filed"

    pulled = sync_cli(box, "once")
    assert pulled.returncode == 0, pulled.stderr + pulled.stdout
    document = BoxDocument.get(BoxDocument.uid == at_hub.uid)
    assert BoxDocument.select().count() == 1  # not the South clinic's upload
    assert document.status == "filed" and document.patient.mrn == "44556677" and document.patient.source == "hub"
    assert document.doc_type == at_hub.doc_type and document.scan.original_name == "okafor.png"
    assert [hit.document_id for hit in search_documents("haemoglobin okafor").hits] == [document.id]
    scan = document.scan
    assert scan.source == "hub" and scan.evicted_at is not None and not store_path(box, scan.sha256).exists()
    assert BoxAuditEvent.select().where(BoxAuditEvent.action == "document.from_hub").count() == 1

    sync_state.put(sync_state.CURSOR, 0)  # the whole feed again: applied twice is applied once
    assert sync_cli(box, "once").returncode == 0
    assert BoxDocument.select().count() == 1 and Scan.select().count() == 1 and BoxPatient.select().count() == 1

    path = original_path(box, Scan.get_by_id(scan.id))  # on demand, from the hub
    assert path.read_bytes() == original and hashlib.sha256(original).hexdigest() == scan.sha256
    assert Scan.get_by_id(scan.id).evicted_at is None

    update_metadata(document, doc_type="referral", doc_date=None, patient=document.patient, actor="staff")
    assert sync_cli(box, "once").returncode == 0
    with hub_database.connection_context():
        assert HubDocument.select().count() == 2
        assert HubDocument.get(HubDocument.uid == at_hub.uid).doc_type == "referral"  # the box's edit, same document


def test_a_hub_filing_that_disagrees_with_the_box_goes_to_review(box):
    BoxPatient.create(mrn="123", last_name="Other", first_name="Person", dob="1990-01-01")
    payload = {
        "uid": "hub-1",
        "status": "filed",
        "review_reason": None,
        "doc_type": "letter",
        "doc_date": None,
        "original_name": "x.pdf",
        "blob_sha256": "a" * 64,
        "size": 10,
        "patient": {"mrn": "123", "last_name": "Smith", "first_name": "Jo", "dob": "1970-01-01"},
        "pages": [{"number": 1, "text": "Letter for Smith"}],
    }
    assert apply_hub_document(payload) == "applied" and apply_hub_document(payload) == "unchanged"
    document = BoxDocument.get(BoxDocument.uid == "hub-1")
    assert document.status == "needs_review" and document.patient is None
    assert "another name or date of birth" in document.review_reason
