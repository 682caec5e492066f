"""The hub keeps a document the box moved to the trash out of its lists, counts and search,
shows it again when the box restores it, and deletes it when the box purges it."""

import uuid

from cloud_hub import records
from cloud_hub.db import database
from cloud_hub.models import Document, Patient
from cloud_hub.search import search_documents
from tests.hub_fixtures import enrol_box
from tests.sync.test_sync_data import batch, document_item, upload


def test_a_trashed_document_leaves_the_hubs_lists_and_search_until_restored_or_removed(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    sha, _ = upload(box, b"scan of a junk page")
    clinic, organisation = tenants["north"].id, tenants["north"].organisation_id

    def visible():
        with database.connection_context():
            hits = search_documents(organisation, [clinic], "haemoglobin")
            patient = Patient.get(Patient.mrn == "00123456")
            overview = records.clinic_overview(organisation, [clinic])[0]
            return len(hits), len(records.documents_of(patient)), overview["documents"]

    box.post_json("/api/v1/sync/batches", batch([document_item(sha, uid="doc-1")], seq=1))
    assert visible() == (1, 1, 1)
    trashed = box.post_json(
        "/api/v1/sync/batches", batch([document_item(sha, uid="doc-1", status="trashed")], seq=2)
    ).get_json()
    assert trashed["results"][0]["status"] == "applied"
    assert visible() == (0, 0, 0)
    box.post_json("/api/v1/sync/batches", batch([document_item(sha, uid="doc-1")], seq=3))
    assert visible() == (1, 1, 1)
    removal = {"id": uuid.uuid4().hex, "type": "document_removed", "uid": "doc-1"}
    box.post_json("/api/v1/sync/batches", batch([removal], seq=4))
    with database.connection_context():
        assert not Document.select().where(Document.uid == "doc-1").exists()


def test_a_status_the_hub_does_not_know_is_refused_with_the_statuses_it_takes(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    sha, _ = upload(box, b"scan")
    answer = box.post_json("/api/v1/sync/batches", batch([document_item(sha, status="shredded")], seq=1)).get_json()
    assert answer["results"][0]["status"] == "refused"
    assert "filed, needs_review, trashed" in answer["results"][0]["error"]
