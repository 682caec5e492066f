"""Duplex scans: the blank backs are found before OCR (ink coverage), kept as pages of the scan,
but not read, indexed or shown in the document, and counted in its notes."""

import pytest

from appliance.db import database
from appliance.documents import document_pages
from appliance.ingest.intake import accept_file
from appliance.models import Document, Page
from tests.corpus import blank
from tests.factories import record_lines, render_page, save_tiff

pytestmark = pytest.mark.ocr


def test_blank_backs_are_kept_but_not_read_indexed_or_shown(box, runner, tmp_path):
    front = render_page(record_lines(mrn="00123456", name="SMITH, John", dob="14/03/1975"))
    second = render_page(["Continued: the patient was seen again and is well."], seed=3)
    intake = accept_file(save_tiff([front, blank(), second, blank()], tmp_path / "duplex.tif"), box)
    runner.run_until_idle({intake.scan.id})
    pages = list(Page.select().where(Page.scan == intake.scan.id).order_by(Page.number))
    assert [p.text_source for p in pages] == ["ocr", "blank", "ocr", "blank"]
    assert [p.text for p in pages if p.text_source == "blank"] == ["", ""]
    document = Document.get(Document.scan == intake.scan.id)
    assert [p.number for p in document_pages(document)] == [1, 3]
    assert "2 blank page(s) (duplex backs) kept but not read" in document.extracted["filing_notes"]
    indexed = database.execute_sql("SELECT rowid FROM page_fts").fetchall()
    assert sorted(row[0] for row in indexed) == sorted(p.id for p in pages if p.text_source == "ocr")
