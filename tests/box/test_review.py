"""Review as one decision: what was read beside the record, suggestions, the pre-filled new
patient, the one picker and the way through the queue (plain functions and the pages)."""

import datetime as dt
import re

import pytest

from appliance import review
from appliance.models import AuditEvent, Document, Patient
from tests.conftest import token_of
from tests.factories import make_document

D = dt.date

# What ingest stores for a document whose MRN names Smith but whose date of birth contradicts him.
READ_SMITH_WRONG_DOB = {
    "mrns": ["00123456"],
    "names": ["Smith, John"],
    "dobs": ["1975-04-14"],
    "doc_date": "2024-04-02",
    "doc_type": "lab_report",
    "notes": ["document date from the report date label"],
    "read": {
        "mrns": [{"value": "00123456", "how": "labelled, OCR confidence 93"}],
        "names": [{"value": "Smith, John", "how": "labelled, OCR confidence 95"}],
        "dobs": [{"value": "1975-04-14", "how": "labelled, OCR confidence 91"}],
    },
    "filing_notes": [],
    "candidates": [],
}


@pytest.fixture
def smith(box):
    return Patient.create(mrn="00123456", last_name="Smith", first_name="John", dob=D(1975, 3, 14))


def in_review(box, extracted=None, **kwargs):
    return make_document(box, status="needs_review", reason="held for review", extracted=extracted, **kwargs)


def test_the_comparison_marks_what_agrees_and_what_differs(box, smith):
    document = in_review(box, dict(READ_SMITH_WRONG_DOB, candidates=[smith.id]))
    [suggestion] = review.suggestions(document)
    rows = {row.label: row for row in suggestion.rows}
    assert suggestion.patient.id == smith.id
    assert rows["MRN"].state == "same" and rows["Name"].state == "same"
    assert rows["Date of birth"].state == "differs" and rows["Date of birth"].record == "1975-03-14"
    assert rows["MRN"].read[0].how == "labelled, OCR confidence 93"


def test_an_ocr_error_in_the_name_still_agrees_and_nothing_read_is_not_a_difference(box, smith):
    read = review.what_was_read(in_review(box, {"names": ["Smlth, John"], "mrns": [], "dobs": []}))
    rows = {row.label: row.state for row in review.compare(read, smith)}
    assert rows == {"MRN": "not_read", "Name": "same", "Date of birth": "not_read"}


def test_a_patient_whose_mrn_was_read_is_suggested_even_when_not_a_candidate(box, smith):
    Patient.create(mrn="999", last_name="Other", first_name="Ann", dob=D(1990, 1, 1))
    suggested = review.suggestions(in_review(box, READ_SMITH_WRONG_DOB))
    assert [s.patient.id for s in suggested] == [smith.id]
    assert suggested[0].why == "the MRN read matches this record"


def test_suggestions_are_ordered_by_how_much_agrees(box, smith):
    twin = Patient.create(mrn="00123457", last_name="Smith", first_name="John", dob=D(1975, 4, 14))
    document = in_review(box, dict(READ_SMITH_WRONG_DOB, mrns=["00123457"], read={}, candidates=[smith.id, twin.id]))
    assert [s.patient.id for s in review.suggestions(document)] == [twin.id, smith.id]


def test_new_patient_is_prefilled_from_what_was_read(box):
    document = in_review(box, READ_SMITH_WRONG_DOB)
    assert review.new_patient_fields(review.what_was_read(document)) == {
        "mrn": "00123456",
        "last_name": "Smith",
        "first_name": "John",
        "dob": "1975-04-14",
    }
    assert review.new_patient_fields(review.what_was_read(in_review(box))) == dict.fromkeys(
        ("mrn", "last_name", "first_name", "dob"), ""
    )


def test_position_and_next_through_the_queue(box, smith):
    first, second, third = (in_review(box) for _ in range(3))
    make_document(box, patient=smith)
    assert review.position(second) == review.Position(2, 3, first.id, third.id)
    assert review.position(first).previous_id is None and review.position(third).next_id is None
    assert review.next_after(second) == third.id
    assert review.next_after(third) == first.id
    Document.update(status="filed").where(Document.id.in_([first.id, second.id])).execute()
    assert review.next_after(third) is None


def test_the_review_page_shows_the_reading_beside_the_record(box, staff_client, smith):
    document = in_review(box, dict(READ_SMITH_WRONG_DOB, candidates=[smith.id]))
    html = staff_client.get(f"/documents/{document.id}").get_data(as_text=True)
    assert "What the box read" in html and "labelled, OCR confidence 93" in html
    assert re.search(r'<tr class="differs"><th scope="row" data-label="Field">Date of birth', html)
    assert "≠ differs" in html and "✓ same" in html
    assert f'name="patient_id" value="{smith.id}"' in html and "File under Smith, John" in html
    assert 'name="mrn" value="00123456"' in html and 'name="dob" value="1975-04-14"' in html
    # One picker on the page, an ARIA combobox with its listbox.
    assert html.count('role="combobox"') == 1 and html.count('role="listbox"') == 1
    assert 'aria-expanded="false"' in html and 'aria-controls="assign-options"' in html
    assert "combobox.js" in html and "1 of 1" in html


def test_a_filed_document_has_the_one_picker_to_move_it(box, staff_client, smith):
    html = staff_client.get(f"/documents/{make_document(box, patient=smith).id}").get_data(as_text=True)
    assert html.count('role="combobox"') == 1 and "Move to patient" in html and "What the box read" not in html


def test_filing_goes_on_to_the_next_document_waiting(box, staff_client, smith):
    first, second = in_review(box), in_review(box)
    token = token_of(staff_client, "/review")
    response = staff_client.post(f"/documents/{first.id}/assign", data={"csrf_token": token, "patient_id": smith.id})
    assert response.headers["Location"] == f"/documents/{second.id}"
    html = staff_client.get(f"/documents/{second.id}").get_data(as_text=True)
    assert "Filed under Smith, John" in html and "1 of 1" in html
    response = staff_client.post(f"/documents/{second.id}/assign", data={"csrf_token": token, "patient_id": smith.id})
    assert response.headers["Location"] == "/review"


def test_filing_without_a_patient_files_nothing(box, staff_client):
    document = in_review(box)
    token = token_of(staff_client, "/review")
    page = staff_client.post(
        f"/documents/{document.id}/assign", data={"csrf_token": token, "patient_id": ""}, follow_redirects=True
    )
    assert "Choose a patient from the list first" in page.get_data(as_text=True)
    assert Document.get_by_id(document.id).status == "needs_review"
    assert not AuditEvent.select().where(AuditEvent.action == "document.assign").exists()


def test_creating_the_prefilled_patient_files_and_moves_on(box, staff_client):
    document = in_review(box, READ_SMITH_WRONG_DOB)
    token = token_of(staff_client, "/review")
    data = {"csrf_token": token, "mrn": "00123456", "last_name": "Smith", "first_name": "John", "dob": "1975-04-14"}
    response = staff_client.post(f"/documents/{document.id}/create-patient", data=data)
    assert response.headers["Location"] == "/review"
    assert Document.get_by_id(document.id).patient.dob == D(1975, 4, 14)
