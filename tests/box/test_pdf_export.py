"""Handing documents over: a document's searchable PDF (its text placed from the OCR word boxes
kept at intake) and a patient's chart export, through the box UI as staff use them."""

from __future__ import annotations

import datetime as dt
import io

import pypdf
import pypdfium2 as pdfium
import pytest

from appliance.ingest.intake import accept_file
from appliance.models import AuditEvent, Document, Page, Patient
from core.ingest.word_boxes import WordBoxes, read_word_boxes, write_word_boxes
from tests.conftest import token_of
from tests.factories import A4_300DPI, MARGIN, make_document, record_lines, render_page, save_tiff

D = dt.date
POINTS = 72 / 300  # the test scans are 300 dpi
A4_HEIGHT = A4_300DPI[1] * POINTS


@pytest.fixture
def smith(box):
    return Patient.create(mrn="00123456", last_name="Smith", first_name="John", dob=D(1975, 3, 14))


def placed(page) -> dict[str, tuple[float, float]]:
    """Each word of a PDF page's text layer and where it starts (x, y in points from the bottom left)."""
    found: dict[str, tuple[float, float]] = {}

    def visit(text, cm, tm, font, size):
        word = text.strip()
        if word and word not in found:
            found[word] = (tm[4], tm[5])

    page.extract_text(visitor_text=visit)
    return found


def ink_under(pdf: bytes, index: int, x: float, y: float) -> bool:
    """True when the page image shows ink just right of and above (x, y): a word's start on its baseline."""
    document = pdfium.PdfDocument(pdf)
    image = document[index].render(scale=1, grayscale=True).to_pil().convert("L")
    height = image.height
    document.close()
    region = image.crop((round(x), round(height - y - 10), round(x + 30), round(height - y)))
    return region.getextrema()[0] < 100


def audit_details(action):
    return [e.detail for e in AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id)]


@pytest.fixture
def scanned(box, runner, tmp_path, smith):
    """A three-page lab report read by the real pipeline: upright, turned a quarter, skewed."""
    upright = render_page(record_lines())
    continued = ["CONTINUATION SHEET", "", "Haemoglobin rechecked after two weeks, unchanged.", *record_lines()[2:]]
    turned = render_page(continued, seed=3, turn=90)
    skewed = render_page(record_lines(title="FOLLOW UP NOTE"), seed=4, rotate=4)
    intake = accept_file(save_tiff([upright, turned, skewed], tmp_path / "lab.tif"), box)
    runner.run_until_idle({intake.scan.id})
    return Document.get(Document.scan == intake.scan.id)


@pytest.mark.ocr
def test_a_documents_searchable_pdf_has_its_words_where_the_page_shows_them(box, scanned, staff_client):
    assert scanned.status == "filed"
    pages = list(Page.select().where(Page.document == scanned.id).order_by(Page.number))
    assert [p.rotation for p in pages] == [0, 90, 0]
    answer = staff_client.get(f"/documents/{scanned.id}/searchable.pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.headers["Content-Disposition"] == f"attachment; filename=document-{scanned.id}.pdf"
    pdf = pypdf.PdfReader(io.BytesIO(answer.data))
    assert len(pdf.pages) == 3
    first, second, third = pdf.pages
    assert "Haemoglobin 13.5 g/dL" in first.extract_text()
    assert "rechecked after two weeks" in second.extract_text()
    assert "FOLLOW UP NOTE" in third.extract_text()
    # A4 portrait, page 2 turned back upright; the first line's first word starts at the margin.
    for page in (first, second):
        assert abs(float(page.mediabox.width) - A4_300DPI[0] * POINTS) < 3
        assert abs(float(page.mediabox.height) - A4_HEIGHT) < 3
    for page, word in ((first, "LABORATORY"), (second, "CONTINUATION")):
        x, y = placed(page)[word]
        assert abs(x - MARGIN * POINTS) < 4
        assert A4_HEIGHT - (MARGIN + 60) * POINTS < y < A4_HEIGHT - MARGIN * POINTS
    # On every page, levelled or not, the words lie on their ink in the page image.
    for number, words in enumerate(
        (("LABORATORY", "Haemoglobin"), ("CONTINUATION", "rechecked"), ("FOLLOW", "Haemoglobin"))
    ):
        for word in words:
            assert ink_under(answer.data, number, *placed(pdf.pages[number])[word]), (number, word)
    assert audit_details("document.download") == [{"format": "searchable_pdf", "pages": 3}]
    assert AuditEvent.get(AuditEvent.action == "document.download").actor == "bob"


@pytest.mark.ocr
def test_the_text_layer_comes_from_the_kept_word_boxes_not_a_second_reading(box, scanned, staff_client):
    sha256 = scanned.scan.sha256
    kept = read_word_boxes(box.data_dir, sha256, 1)
    assert kept is not None and kept.size == A4_300DPI and len(kept.words) > 20
    moved = [
        (start, end, conf, left + 600, top, width, height) for start, end, conf, left, top, width, height in kept.words
    ]
    write_word_boxes(box.data_dir, sha256, 1, WordBoxes(kept.size, kept.rotation, kept.skew, moved))
    page = pypdf.PdfReader(io.BytesIO(staff_client.get(f"/documents/{scanned.id}/searchable.pdf").data)).pages[0]
    assert abs(placed(page)["LABORATORY"][0] - (MARGIN + 600) * POINTS) < 4


def test_a_page_without_word_boxes_still_gets_its_text(box, staff_client, smith):
    document = make_document(box, patient=smith, texts=("Haemoglobin normal", "Second page text"))
    pdf = pypdf.PdfReader(io.BytesIO(staff_client.get(f"/documents/{document.id}/searchable.pdf").data))
    assert [page.extract_text().strip() for page in pdf.pages] == ["Haemoglobin normal", "Second page text"]


def test_the_viewer_offers_the_searchable_pdf(box, staff_client, smith):
    document = make_document(box, patient=smith)
    html = staff_client.get(f"/documents/{document.id}").get_data(as_text=True)
    assert f'href="/documents/{document.id}/searchable.pdf"' in html


@pytest.fixture
def chart(box, smith):
    """Three documents of Smith's (2023, early 2024, late 2024) and one of someone else's."""
    jones = Patient.create(mrn="00999999", last_name="Jones", first_name="Ann", dob=D(1980, 1, 1))
    return {
        "old": make_document(
            box, patient=smith, texts=("Old referral letter",), doc_type="referral", doc_date=D(2023, 5, 1)
        ),
        "lab": make_document(box, patient=smith, texts=("Haemoglobin normal", "Page two"), doc_date=D(2024, 2, 3)),
        "late": make_document(
            box, patient=smith, texts=("Late discharge note",), doc_type="discharge", doc_date=D(2024, 11, 9)
        ),
        "other": make_document(box, patient=jones, texts=("Not Smith's paper",), doc_date=D(2024, 3, 1)),
    }


def export(client, patient, **form):
    return client.post(f"/patients/{patient.id}/chart.pdf", data={"csrf_token": token_of(client), **form})


def test_a_chart_export_has_a_cover_page_and_a_bookmark_a_document(box, staff_client, smith, chart):
    answer = export(staff_client, smith, date_from="2024-01-01", date_to="2024-12-31", purpose="patient_request")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.headers["Content-Disposition"].startswith(f"attachment; filename=chart-patient-{smith.id}-")
    pdf = pypdf.PdfReader(io.BytesIO(answer.data))
    lab, late = chart["lab"], chart["late"]
    assert [item.title for item in pdf.outline] == [
        "Cover",
        f"Lab report 2024-02-03 (document {lab.id})",
        f"Discharge 2024-11-09 (document {late.id})",
    ]
    assert [pdf.get_destination_page_number(item) for item in pdf.outline] == [0, 1, 3]
    cover = pdf.pages[0].extract_text()
    for fact in ("Smith, John", "00123456", "1975-03-14", "2024-01-01 to 2024-12-31", "2 (3 pages)", "bob"):
        assert fact in cover
    assert "Request by the patient" in cover
    assert [pdf.pages[n].extract_text().strip() for n in (1, 2, 3)] == [
        "Haemoglobin normal",
        "Page two",
        "Late discharge note",
    ]
    details = audit_details("patient.export_chart")
    assert details == [{"documents": [lab.id, late.id], "document_count": 2, "pages": 3, "purpose": "patient_request"}]
    event = AuditEvent.get(AuditEvent.action == "patient.export_chart")
    assert (event.actor, event.object_type, event.object_id) == ("bob", "patient", str(smith.id))


def test_chosen_documents_only_and_open_dates(box, admin_client, smith, chart):
    old = chart["old"]
    answer = export(admin_client, smith, document_id=[str(old.id), str(chart["other"].id)], purpose="referral")
    pdf = pypdf.PdfReader(io.BytesIO(answer.data))
    assert [item.title for item in pdf.outline] == ["Cover", f"Referral 2023-05-01 (document {old.id})"]
    assert "all dates" in pdf.pages[0].extract_text() and "Not Smith" not in pdf.pages[1].extract_text()


def test_an_export_needs_a_purpose_and_documents_and_is_not_audited_when_refused(box, staff_client, smith, chart):
    for form, reason in (
        ({"date_from": "2024-01-01"}, "choose the purpose"),
        ({"date_from": "2030-01-01", "purpose": "legal"}, "no documents match"),
        ({"date_from": "yesterday", "purpose": "legal"}, "a date is not a date"),
    ):
        answer = export(staff_client, smith, **form)
        assert answer.status_code == 302 and answer.headers["Location"] == f"/patients/{smith.id}"
        assert reason in staff_client.get(f"/patients/{smith.id}").get_data(as_text=True)
    assert audit_details("patient.export_chart") == []


def test_the_export_needs_its_csrf_token(box, staff_client, smith, chart):
    answer = staff_client.post(f"/patients/{smith.id}/chart.pdf", data={"purpose": "legal"})
    assert answer.status_code == 400
    assert audit_details("patient.export_chart") == []


def test_the_patient_page_offers_the_export_with_each_document(box, staff_client, smith, chart):
    html = staff_client.get(f"/patients/{smith.id}").get_data(as_text=True)
    assert f'action="/patients/{smith.id}/chart.pdf"' in html and 'name="csrf_token"' in html
    for key in ("old", "lab", "late"):
        assert f'name="document_id" value="{chart[key].id}"' in html
    assert f'value="{chart["other"].id}"' not in html
