"""Tags and notes from the box at the hub: stored with the document, shown on its page, and a
box on older software (no tags, no note in its payload) still syncs and changes none of them."""

import datetime as dt
import uuid

from appliance import outbox
from appliance.annotations import annotate
from appliance.models import Patient as BoxPatient
from cloud_hub.db import database
from cloud_hub.devices import issue_enrolment_token
from cloud_hub.models import Document
from tests.factories import make_document
from tests.hub_fixtures import enrol_box, sign_in
from tests.sync.test_sync_agent import sync_cli
from tests.sync.test_sync_data import batch, document_item, upload

NOTE = "Insurance form sent back to the patient"


def hub_document(uid):
    with database.connection_context():
        return Document.get(Document.uid == uid)


def test_the_hub_keeps_tags_and_note_and_a_payload_without_them_leaves_them_be(hub_app, tenants, people):
    box = enrol_box(hub_app, tenants["north"])
    sha, _ = upload(box, b"%PDF-1.4 a tagged scan")
    uid = uuid.uuid4().hex
    tagged = document_item(sha, uid=uid, tags=["urgent", "insurance"], note=NOTE)
    assert box.post_json("/api/v1/sync/batches", batch([tagged])).get_json()["results"][0]["status"] == "applied"
    stored = hub_document(uid)
    assert stored.tag_list == ["insurance", "urgent"] and stored.note == NOTE

    retagged = document_item(sha, uid=uid, tags=["urgent"], note=None)
    assert (
        box.post_json("/api/v1/sync/batches", batch([retagged], seq=2)).get_json()["results"][0]["status"] == "applied"
    )
    assert hub_document(uid).tag_list == ["urgent"] and hub_document(uid).note is None

    older_box = document_item(sha, uid=uid, text="Haemoglobin 14.0")  # no "tags", no "note"
    assert "tags" not in older_box["document"]
    answer = box.post_json("/api/v1/sync/batches", batch([older_box], seq=3)).get_json()
    assert answer["results"][0]["status"] == "applied"
    assert hub_document(uid).tag_list == ["urgent"]
    with database.connection_context():
        assert [p.text for p in hub_document(uid).pages] == ["Haemoglobin 14.0"]
    first_sync = document_item(sha, text="Old box, new document")  # a new document from an old box
    assert (
        box.post_json("/api/v1/sync/batches", batch([first_sync], seq=4)).get_json()["results"][0]["status"]
        == "applied"
    )
    assert hub_document(first_sync["document"]["uid"]).tag_list == []

    bad = document_item(sha, tags=["x" * 41])
    refused = box.post_json("/api/v1/sync/batches", batch([bad], seq=5)).get_json()["results"][0]
    assert refused["status"] == "refused" and "document.tags" in refused["error"]

    admin = sign_in(hub_app, "admin@acme.test")
    html = admin.get(f"/documents/{stored.id}").get_data(as_text=True)
    assert "From the clinic" in html and '<span class="tag">urgent</span>' in html


def test_a_tag_and_a_note_written_on_the_box_reach_the_hub_page(box, served_hub, tenants, people, hub_app):
    smith = BoxPatient.create(mrn="00123456", last_name="Smith", first_name="John", dob=dt.date(1975, 3, 14))
    document = make_document(box, patient=smith)
    outbox.document_changed(document)  # as the pipeline does when it files one
    with database.connection_context():
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
    assert sync_cli(box, "enrol", "--hub", served_hub, "--token", token, "--name", "North desk").returncode == 0
    first = sync_cli(box, "once")
    assert first.returncode == 0, first.stdout + first.stderr
    assert hub_document(document.uid).tag_list == []

    annotate(document, tags=["insurance", "call back"], note=NOTE, actor="bob")
    again = sync_cli(box, "once")
    assert again.returncode == 0, again.stdout + again.stderr
    at_hub = hub_document(document.uid)
    assert at_hub.tag_list == ["call back", "insurance"] and at_hub.note == NOTE
    html = sign_in(hub_app, "admin@acme.test").get(f"/documents/{at_hub.id}").get_data(as_text=True)
    assert NOTE in html and '<span class="tag">call back</span>' in html
