"""Head office's daily pages: review and quarantine counts per clinic on the clinics page; a
patient's page with their documents across the clinics the user may see."""

import json
import re
import uuid

from cloud_hub.db import database
from cloud_hub.models import AuditEvent, Device, Document
from tests.hub_fixtures import enrol_box, file_document, sign_in


def send_review_document(box, mrn: str, quarantine_open: int | None, seq: int = 2) -> dict:
    """A document the box could not file, in a batch that reports the box's quarantine."""
    uid = uuid.uuid4().hex
    item = {
        "id": uid,
        "type": "document",
        "document": {
            "uid": uid,
            "status": "needs_review",
            "review_reason": "the MRN could not be read",
            "doc_type": "letter",
            "doc_date": None,
            "original_name": "letter.pdf",
            "blob_sha256": _blob_of_first_document(box),
            "patient": None,
            "pages": [{"number": 1, "text": f"Letter {mrn}"}],
        },
    }
    status = {} if quarantine_open is None else {"quarantine_open": quarantine_open}
    batch = {"batch_id": uuid.uuid4().hex, "seq": seq, "backlog": 0, "status": status, "items": [item]}
    answer = box.post_json("/api/v1/sync/batches", batch).get_json()
    assert answer["results"][0]["status"] == "applied", answer
    return answer


def _blob_of_first_document(box) -> str:
    from cloud_hub.models import Document

    with database.connection_context():
        device = Device.get(Device.uid == box.device_id)
        return Document.select().where(Document.device == device).first().blob_sha256


def clinic_facts(html: str, clinic: str) -> tuple[str, str]:
    """The review and quarantine counts shown on a clinic's card."""
    card = html.split(f'data-clinic="{clinic}"')[1].split("</section>")[0]
    review = re.search(r'class="review-count"><b>([^<]+)</b>', card).group(1)
    quarantine = re.search(r'class="quarantine-count"><b>([^<]+)</b>', card).group(1)
    return review, quarantine


def test_clinics_page_shows_review_and_quarantine_counts_per_clinic(hub_app, records):
    admin = sign_in(hub_app, "admin@acme.test")
    assert clinic_facts(admin.get("/").get_data(as_text=True), "North") == ("0", "–")
    send_review_document(records["north"]["box"], "100", quarantine_open=3)
    send_review_document(records["north"]["box"], "101", quarantine_open=2, seq=3)
    send_review_document(records["south"]["box"], "200", quarantine_open=None)
    html = admin.get("/").get_data(as_text=True)
    assert clinic_facts(html, "North") == ("2", "2")  # the box's latest report
    assert clinic_facts(html, "South") == ("1", "–")
    assert "in quarantine (not reported yet)" in html.split('data-clinic="South"')[1].split("</section>")[0]
    with database.connection_context():
        assert Device.get(Device.uid == records["north"]["device"]).reported_quarantine == 2
    devices = sign_in(hub_app, "it@acme.test").get("/devices").get_data(as_text=True)
    assert "2 file(s) in quarantine" in devices
    viewer = sign_in(hub_app, "vera@acme.test").get("/").get_data(as_text=True)
    assert clinic_facts(viewer, "North") == ("2", "2") and 'data-clinic="South"' not in viewer


def test_a_batch_without_a_quarantine_report_keeps_the_last_one(hub_app, records):
    box = records["north"]["box"]
    send_review_document(box, "100", quarantine_open=4)
    patient = {"mrn": "102", "last_name": "Roe", "first_name": "Jo", "dob": None}
    batch = {
        "batch_id": uuid.uuid4().hex,
        "seq": 3,
        "backlog": 0,
        "items": [{"id": "p", "type": "patient", "patient": patient}],
    }
    assert box.request("POST", "/api/v1/sync/batches", json.dumps(batch).encode()).status_code == 200
    with database.connection_context():
        assert Device.get(Device.uid == records["north"]["device"]).reported_quarantine == 4


def test_a_patient_page_lists_their_documents_across_the_clinics_the_user_sees(hub_app, tenants, people):
    from cloud_hub.tenancy import create_clinic

    with database.connection_context():
        west = create_clinic(tenants["acme"], "West")
    north, south = enrol_box(hub_app, tenants["north"]), enrol_box(hub_app, tenants["south"])
    at_north = file_document(north, "Discharge summary", "555", last_name="Smith", original_name="north.pdf")
    at_south = file_document(south, "Clinic letter", "555", last_name="SMITH", original_name="south.pdf")
    namesake = file_document(
        enrol_box(hub_app, west), "Unrelated letter", "555", last_name="Smyth", original_name="smyth.pdf"
    )
    with database.connection_context():
        ids = {uid: (d.id, d.patient_id) for uid in (at_north, at_south, namesake) for d in [Document.get(uid=uid)]}
    north_patient = ids[at_north][1]
    admin = sign_in(hub_app, "admin@acme.test")
    search = admin.get("/search?q=smith").get_data(as_text=True)
    assert f'<a class="patient-link" href="/patients/{north_patient}">Smith, Jo</a>' in search
    chart = admin.get(f"/patients/{north_patient}").get_data(as_text=True)
    assert "north.pdf" in chart and "south.pdf" in chart and "smyth.pdf" not in chart
    assert "Records at North, South (the same MRN, last name and date of birth)." in chart
    assert f'href="/documents/{ids[at_south][0]}"' in chart
    viewer = sign_in(hub_app, "vera@acme.test")
    own = viewer.get(f"/patients/{north_patient}").get_data(as_text=True)
    assert "north.pdf" in own and "south.pdf" not in own and "Records at North." in own
    assert viewer.get(f"/patients/{ids[at_south][1]}").status_code == 404
    assert sign_in(hub_app, "it@acme.test").get(f"/patients/{north_patient}").status_code == 403
    with database.connection_context():
        viewed = AuditEvent.select().where(AuditEvent.action == "patient.view")
        assert viewed.count() == 2 and all("Smith" not in (event.detail or "") for event in viewed)
