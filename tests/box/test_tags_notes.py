"""Tags, notes, a document's history and bulk actions on the box: the functions, then the pages."""

import datetime as dt
import json

import pytest

from appliance import bulk
from appliance.annotation_search import search_annotations
from appliance.annotations import AnnotationError, annotate, annotations_of, parse_tags
from appliance.documents import merge, update_metadata
from appliance.history import document_history
from appliance.models import AuditEvent, Document, Outbox, Patient
from appliance.search import SearchError
from appliance.sync.payloads import item_for
from tests.conftest import token_of
from tests.factories import make_document

NOTE = "Called Mrs Smith back about the insurance form"


@pytest.fixture
def smith(box):
    return Patient.create(mrn="00123456", last_name="Smith", first_name="John", dob=dt.date(1975, 3, 14))


def events(action):
    return list(AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id))


def test_tags_are_folded_deduplicated_and_checked():
    assert parse_tags(" Insurance,  call   back , insurance,,") == ["call back", "insurance"]
    with pytest.raises(AnnotationError, match="letters, digits"):
        parse_tags("<script>")
    with pytest.raises(AnnotationError, match="at most 40"):
        parse_tags("x" * 41)
    with pytest.raises(AnnotationError, match="at most 20 tags"):
        parse_tags(",".join(f"t{n}" for n in range(21)))


def test_a_tag_or_a_note_word_finds_the_document_and_the_trail_keeps_only_counts(box, smith):
    document = make_document(box, patient=smith, texts=("Haemoglobin normal",))
    other = make_document(box, patient=smith, texts=("Insurance claim form",), doc_type="referral")
    Outbox.delete().execute()
    annotate(document, tags=["insurance", "call back"], note=NOTE, actor="bob")

    assert [h.document_id for h in search_annotations("insurance")] == [document.id]  # not `other`'s page text
    assert [h.document_id for h in search_annotations("mrs smith")] == [document.id]
    hit = search_annotations("call")[0]
    assert "\x02call\x03" in hit.tags and hit.snippet == ""
    assert search_annotations("insurance", doc_type="referral") == []
    with pytest.raises(SearchError):
        search_annotations("  ")

    (event,) = events("document.annotate")
    assert event.actor == "bob" and event.object_id == str(document.id)
    assert event.detail == {"tags": 2, "tags_added": 2, "tags_removed": 0, "note": "written"}
    trail = json.dumps([e.detail for e in AuditEvent.select()])
    assert "insurance" not in trail.lower() and "Smith" not in trail
    assert Outbox.select().where((Outbox.kind == "document") & (Outbox.object_key == document.uid)).count() == 1

    annotate(document, tags=["call back"], note="", actor="bob")
    assert search_annotations("insurance") == [] and annotations_of(document).note is None
    assert events("document.annotate")[-1].detail == {"tags": 1, "tags_added": 0, "tags_removed": 1, "note": "removed"}
    annotate(document, tags=["call back"], note=None, actor="bob")  # nothing changed: nothing recorded
    assert len(events("document.annotate")) == 2 and other.id


def test_tags_and_note_travel_in_the_document_payload(box, smith):
    document = make_document(box, patient=smith)
    item, _ = item_for("document", document.uid)
    assert item["document"]["tags"] == [] and item["document"]["note"] is None
    annotate(document, tags=["urgent"], note=NOTE, actor="bob")
    item, _ = item_for("document", document.uid)
    assert item["document"]["tags"] == ["urgent"] and item["document"]["note"] == NOTE


def test_merging_keeps_both_documents_tags_and_notes(box, smith):
    first, second = make_document(box, patient=smith), make_document(box, patient=smith)
    annotate(first, tags=["urgent"], note="first note", actor="bob")
    annotate(second, tags=["insurance", "urgent"], note="second note", actor="alice")
    merge(first, second, actor="bob")
    kept = annotations_of(first)
    assert kept.tags == ["insurance", "urgent"] and kept.note == "first note\n\nsecond note"
    assert [h.document_id for h in search_annotations("second")] == [first.id]


def test_the_history_lists_what_happened_to_the_document_newest_first(box, smith):
    document = make_document(box, status="needs_review", reason="no MRN")
    other = Patient.create(mrn="00999999", last_name="Roe", first_name="Jane", dob=dt.date(1980, 1, 2))
    update_metadata(document, doc_type="referral", doc_date=dt.date(2024, 4, 2), patient=smith, actor="bob")
    document = Document.get_by_id(document.id)
    update_metadata(document, doc_type="referral", doc_date=dt.date(2024, 4, 2), patient=other, actor="alice")
    annotate(document, tags=["urgent"], note=NOTE, actor="alice")
    entries, earlier = document_history(document)
    assert [(e.actor, e.what) for e in entries] == [
        ("alice", "Changed the tags or the note"),
        ("alice", "Edited the details"),
        ("bob", "Edited the details"),
    ]
    assert entries[1].details == ["moved from Smith, John to Roe, Jane"]
    assert entries[2].details == [
        "type Lab report → Referral",
        "date none → 2024-04-02",
        "moved from no patient to Smith, John",
    ]
    assert NOTE not in json.dumps([e.details for e in entries]) and not earlier
    assert document_history(document, limit=2) == (entries[:2], True)


def test_bulk_set_type_changes_and_audits_each_document_in_one_go(box, smith):
    first, second = make_document(box, patient=smith), make_document(box, patient=smith, doc_type="referral")
    assert (
        bulk.apply(
            "set_type", [first.id, second.id, first.id], actor="bob", doc_type="imaging", types=["imaging", "other"]
        )
        == 2
    )
    assert {d.doc_type for d in Document.select()} == {"imaging"}
    assert len(events("document.edit")) == 2
    (summary,) = events("document.bulk")
    assert summary.detail == {"bulk": "set_type", "documents": 2}
    with pytest.raises(bulk.BulkError, match="no longer exists"):
        bulk.apply("set_type", [first.id, 9999], actor="bob", doc_type="other", types=["imaging", "other"])
    with pytest.raises(bulk.BulkError, match="unknown document type"):
        bulk.apply("set_type", [first.id, second.id], actor="bob", doc_type="nope", types=["imaging", "other"])
    assert {d.doc_type for d in Document.select()} == {"imaging"} and len(events("document.bulk")) == 1


# The pages


def test_staff_tag_and_note_a_document_on_its_page(box, staff_client, smith):
    document = make_document(box, patient=smith)
    page = f"/documents/{document.id}"
    assert staff_client.post(f"{page}/annotations", data={"tags": "x"}).status_code == 400  # no CSRF token
    answer = staff_client.post(
        f"{page}/annotations", data={"csrf_token": token_of(staff_client), "tags": "Insurance, call back", "note": NOTE}
    )
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"{page}#tags-notes")
    html = staff_client.get(page).get_data(as_text=True)
    assert ">insurance</a>" in html and ">call back</a>" in html and NOTE in html
    assert "Changed the tags or the note" in html and "Viewed" in html  # the history card
    refused = staff_client.post(f"{page}/annotations", data={"csrf_token": token_of(staff_client), "tags": "<b>"})
    assert "not saved" in staff_client.get(refused.headers["Location"]).get_data(as_text=True)
    assert annotations_of(document).tags == ["call back", "insurance"]


def test_search_shows_tagged_documents_beside_the_page_hits(box, staff_client, smith):
    document = make_document(box, patient=smith, texts=("Haemoglobin normal",))
    annotate(document, tags=["insurance"], note=NOTE, actor="bob")
    html = staff_client.get("/search?q=insurance").get_data(as_text=True)
    assert "Tagged or noted" in html and f"/documents/{document.id}#tags-notes" in html
    assert "<mark>insurance</mark>" in html and 'id="bulk-form"' in html
    assert events("search")[-1].detail["noted"] == 1
    assert "Tagged or noted" not in staff_client.get("/search?q=haemoglobin").get_data(as_text=True)


def test_bulk_actions_from_the_patient_page(box, staff_client, smith):
    first, second = make_document(box, patient=smith), make_document(box, patient=smith)
    roe = Patient.create(mrn="00999999", last_name="Roe", first_name="Jane", dob=dt.date(1980, 1, 2))
    page = f"/patients/{smith.id}"
    html = staff_client.get(page).get_data(as_text=True)
    assert html.count('class="bulk-pick"') == 2 and "Select all" in html
    token = token_of(staff_client, page)
    form = {"csrf_token": token, "next": page, "action": "set_type", "doc_type": "referral"}
    answer = staff_client.post("/documents/bulk", data={**form, "document_id": [str(first.id), str(second.id)]})
    assert answer.status_code == 302 and answer.headers["Location"] == page
    assert "2 document(s) updated" in staff_client.get(page).get_data(as_text=True)
    assert {d.doc_type for d in Document.select()} == {"referral"}

    moved = staff_client.post(
        "/documents/bulk",
        data={
            "csrf_token": token,
            "next": page,
            "action": "set_patient",
            "patient_id": roe.id,
            "document_id": first.id,
        },
    )
    assert moved.status_code == 302 and Document.get_by_id(first.id).patient_id == roe.id
    nothing = staff_client.post("/documents/bulk", data={**form, "next": "//evil.example/x"})
    assert nothing.headers["Location"] == "/search"  # no open redirect
    assert "choose at least one document" in staff_client.get("/search").get_data(as_text=True)
    assert staff_client.post("/documents/bulk", data={**form, "action": "drop_tables"}).status_code == 400
    assert staff_client.post("/documents/bulk", data={"action": "set_type", "document_id": first.id}).status_code == 400


def test_the_history_names_searchable_pdf_downloads_and_chart_exports(box, smith):
    from appliance import audit

    document, other = make_document(box, patient=smith), make_document(box, patient=smith)
    audit.record("document.download", actor="bob", obj=document, format="searchable_pdf", pages=1)
    audit.record(
        "patient.export_chart", actor="bob", obj=smith, documents=[other.id, document.id], purpose="patient_request"
    )
    audit.record("patient.export_chart", actor="bob", obj=smith, documents=[other.id], purpose="patient_request")
    entries, _ = document_history(document)
    assert [(e.what, e.details) for e in entries] == [
        ("Exported in the patient's chart", ["purpose: patient request"]),
        ("Downloaded as a searchable PDF", []),
    ]


def test_bulk_move_to_trash_trashes_every_chosen_document_and_each_is_audited(box, staff_client, smith):
    from appliance.models import AuditEvent

    first, second = make_document(box, patient=smith), make_document(box, patient=smith)
    page = f"/patients/{smith.id}"
    token = token_of(staff_client, page)
    answer = staff_client.post(
        "/documents/bulk",
        data={"csrf_token": token, "next": page, "action": "trash", "document_id": [str(first.id), str(second.id)]},
    )
    assert answer.status_code == 302
    assert {Document.get_by_id(d.id).status for d in (first, second)} == {"trashed"}
    assert AuditEvent.select().where(AuditEvent.action == "document.trash").count() == 2
    assert f"/documents/{first.id}" not in staff_client.get(page).get_data(as_text=True)
