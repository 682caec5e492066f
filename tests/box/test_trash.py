"""The trash: out of review, search and the patient's list; restorable until purged; admins
purge; the worker purges what is older than APPLIANCE_TRASH_DAYS; every step audited."""

import datetime as dt

import pytest

from appliance import trash
from appliance.documents import DocumentError, assign
from appliance.ingest.intake import accept_file, store_path
from appliance.ingest.worker import purge_trash_when_due
from appliance.models import AuditEvent, Document, Outbox, Page, Patient, Quarantine, Scan, utcnow
from appliance.search import search_documents
from appliance.sync.payloads import item_for
from tests.conftest import token_of
from tests.factories import make_document

D = dt.date


@pytest.fixture
def smith(box):
    return Patient.create(mrn="00123456", last_name="Smith", first_name="John", dob=D(1975, 3, 14))


def actions():
    return [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]


def test_a_trashed_document_leaves_review_search_and_the_patients_list_and_comes_back(box, smith):
    in_review = make_document(box, status="needs_review", texts=("Blank cover zebra",))
    filed = make_document(box, patient=smith, texts=("Haemoglobin zebra",))
    trash.trash_document(in_review, "not_patient_document", "bob")
    trash.trash_document(filed, "discarded", "bob")
    assert Document.select().where(Document.status == "needs_review").count() == 0
    assert search_documents("zebra").hits == []
    from appliance.patients import patient_documents

    assert list(patient_documents(smith)) == []
    assert trash.restore_document(Document.get_by_id(in_review.id), "bob").status == "needs_review"
    restored = trash.restore_document(Document.get_by_id(filed.id), "bob")
    assert restored.status == "filed" and restored.patient_id == smith.id and restored.trashed_at is None
    assert {hit.document_id for hit in search_documents("zebra").hits} == {in_review.id, filed.id}
    assert actions().count("document.trash") == 2 and actions().count("document.restore") == 2


def test_a_trashed_document_cannot_be_filed_or_trashed_twice(box, smith):
    document = trash.trash_document(make_document(box, status="needs_review"), "discarded", "bob")
    with pytest.raises(DocumentError):
        assign(document, smith, "bob")
    with pytest.raises(trash.TrashError):
        trash.trash_document(document, "discarded", "bob")
    with pytest.raises(trash.TrashError):
        trash.trash_document(make_document(box), "because", "bob")


def test_the_hub_learns_the_trash_state_and_the_purge(box):
    document = make_document(box, status="needs_review")
    trash.trash_document(document, "not_patient_document", "bob")
    item, _ = item_for("document", document.uid)
    assert item["document"]["status"] == "trashed"
    trash.purge_document(Document.get_by_id(document.id), box, "alice")
    assert Outbox.select().where((Outbox.kind == "document_removed") & (Outbox.object_key == document.uid)).exists()
    assert item_for("document_removed", document.uid)[0]["type"] == "document_removed"


def test_purge_deletes_pages_and_the_original_and_a_rescan_is_new_again(box, tmp_path):
    document = make_document(box, status="needs_review", texts=("one", "two"))
    scan = Scan.get_by_id(document.scan_id)
    original = store_path(box, scan.sha256)
    content = original.read_bytes()
    with pytest.raises(trash.TrashError):
        trash.purge_document(document, box, "alice")
    trash.purge_document(trash.trash_document(document, "discarded", "bob"), box, "alice")
    assert Document.get_or_none(Document.id == document.id) is None
    assert not Page.select().where(Page.scan == scan.id).exists() and not original.exists()
    assert Scan.get_by_id(scan.id).status == "purged"
    again = tmp_path / "again.tif"
    again.write_bytes(content)
    assert accept_file(again, box, remove=False).outcome == "new"
    assert "document.purge" in actions()


def test_purge_keeps_an_original_another_document_still_uses(box):
    kept = make_document(box, status="needs_review")
    other = Document.create(
        scan=kept.scan_id, status="needs_review", doc_type="other", first_page=2, page_count=0, extracted=None
    )
    trash.purge_document(trash.trash_document(other, "discarded", "bob"), box, "alice")
    assert store_path(box, kept.scan.sha256).exists()


def test_only_what_is_older_than_the_trash_days_is_purged(box):
    old, recent = make_document(box), make_document(box)
    trash.trash_document(old, "discarded", "bob")
    trash.trash_document(recent, "discarded", "bob")
    Document.update(trashed_at=utcnow() - dt.timedelta(days=31)).where(Document.id == old.id).execute()
    assert trash.purge_expired(box) == 1
    assert Document.get_or_none(Document.id == old.id) is None
    assert Document.get_by_id(recent.id).status == "trashed"
    assert trash.purge_expired(box.with_overrides(trash_days=1), now=utcnow() + dt.timedelta(days=2)) == 1
    purges = AuditEvent.select().where(AuditEvent.action == "document.purge")
    assert [e.actor for e in purges] == ["system", "system"]


def test_the_worker_purges_when_due_and_then_waits_an_hour(box):
    document = trash.trash_document(make_document(box), "discarded", "bob")
    Document.update(trashed_at=utcnow() - dt.timedelta(days=40)).where(Document.id == document.id).execute()
    import time

    due = purge_trash_when_due(box, 0.0)
    assert Document.get_or_none(Document.id == document.id) is None
    assert due > time.monotonic() + 3500
    assert purge_trash_when_due(box, due) == due


def test_trash_days_come_from_the_environment():
    from appliance.config import Config, ConfigError

    assert Config.from_env({}).trash_days == 30
    assert Config.from_env({"APPLIANCE_TRASH_DAYS": "7"}).trash_days == 7
    with pytest.raises(ConfigError):
        Config.from_env({"APPLIANCE_TRASH_DAYS": "0"})


def test_review_buttons_move_to_the_trash_with_undo(box, staff_client):
    first = make_document(box, status="needs_review")
    second = make_document(box, status="needs_review")
    token = token_of(staff_client, "/review")
    response = staff_client.post(
        f"/documents/{first.id}/trash", data={"csrf_token": token, "reason": "not_patient_document"}
    )
    assert response.headers["Location"] == f"/documents/{second.id}?undo={first.id}"
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Document #{first.id} moved to the trash" in page and f"/documents/{first.id}/restore" in page
    assert f"Document #{first.id}" not in staff_client.get(f"/documents/{second.id}").get_data(as_text=True)
    staff_client.post(f"/documents/{first.id}/restore", data={"csrf_token": token})
    assert Document.get_by_id(first.id).status == "needs_review"
    listed = staff_client.get("/review").get_data(as_text=True)
    assert f"/documents/{first.id}" in listed and f"/documents/{second.id}" in listed


def test_the_trash_page_lists_restores_and_only_admins_purge(box, staff_client, admin_client):
    document = trash.trash_document(make_document(box, name="junk.png"), "discarded", "bob")
    page = staff_client.get("/trash").get_data(as_text=True)
    assert "junk.png" in page and "Discarded" in page and "Purge" not in page
    token = token_of(staff_client, "/trash")
    assert staff_client.post(f"/documents/{document.id}/purge", data={"csrf_token": token}).status_code == 403
    viewer = staff_client.get(f"/documents/{document.id}").get_data(as_text=True)
    assert "In the trash (Discarded)" in viewer and "Restore" in viewer and "Save changes" not in viewer
    admin_page = admin_client.get("/trash").get_data(as_text=True)
    assert "Purge" in admin_page and 'data-confirm="' in admin_page
    admin_client.post(f"/documents/{document.id}/purge", data={"csrf_token": token_of(admin_client, "/trash")})
    assert Document.get_or_none(Document.id == document.id) is None
    assert "No documents in the trash" in admin_client.get("/trash").get_data(as_text=True)


def test_a_discarded_quarantine_file_is_restorable_from_the_undo_and_the_trash(box, admin_client, tmp_path):
    from appliance.ingest.recording import quarantine_scan

    path = tmp_path / "bad.pdf"
    path.write_bytes(b"plain text, not a scan")
    entry = quarantine_scan(accept_file(path, box).scan, "not a scan")
    token = token_of(admin_client, "/quarantine")
    response = admin_client.post(f"/quarantine/{entry.id}/discard", data={"csrf_token": token})
    assert response.headers["Location"] == f"/quarantine?undo={entry.id}"
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "bad.pdf was discarded" in page and f"/quarantine/{entry.id}/restore" in page
    admin_client.post(f"/quarantine/{entry.id}/restore", data={"csrf_token": token})
    assert Quarantine.get_by_id(entry.id).resolution is None
    assert "Discard…" in admin_client.get("/quarantine").get_data(as_text=True)
    assert actions().count("quarantine.discard") == 1 and actions().count("quarantine.restore") == 1
