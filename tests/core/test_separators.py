"""Separator and cover sheets: which barcodes split a scan, and how."""

import pytest
import zxingcpp

from core.ingest.barcodes import half_size, read_barcodes
from core.ingest.separators import Separator, page_separator, parse_payload, split
from tests.factories import barcode_page


@pytest.mark.parametrize("payload", ["PATCHT", "PATCH T", "patch-t", "SEPARATOR", "PATCH II"])
def test_patch_style_codes_split_without_a_patient(payload):
    assert parse_payload(payload, page_words=0) == Separator(payload=payload.strip())


@pytest.mark.parametrize(
    "payload,mrn,name,dob",
    [
        ("MRN:00123456", "00123456", None, None),
        ("DIGIFORT|MRN=00123456|NAME=SMITH, John|DOB=1975-03-14", "00123456", "SMITH, John", "1975-03-14"),
        ('{"mrn": "00123456", "name": "SMITH, John", "dob": "1975-03-14"}', "00123456", "SMITH, John", "1975-03-14"),
    ],
)
def test_cover_sheet_payloads_carry_the_patient(payload, mrn, name, dob):
    found = parse_payload(payload, page_words=3)
    assert (found.mrn, found.name, found.dob) == (mrn, name, dob)


def test_bare_id_counts_only_on_an_almost_empty_page():
    assert parse_payload("00123456", page_words=5).mrn == "00123456"
    assert parse_payload("00123456", page_words=200) is None


def test_unrelated_barcodes_do_not_split():
    assert parse_payload("https://example.org/lab/result?id=5", page_words=0) is None
    assert page_separator(["LOT 4711-A"], "lots of words " * 50) is None


def test_split_drops_separator_pages_and_keeps_order():
    a, b = Separator(mrn="1"), Separator(payload="PATCHT")
    segments = split([None, a, None, None, b, None, b])
    assert [s.pages for s in segments] == [[0], [2, 3], [5]]
    assert [s.separator for s in segments] == [None, a, b]
    assert split([a]) == []


def test_a_separator_fed_sideways_is_still_read_but_text_pages_get_only_the_quick_look():
    sheet = barcode_page("PATCHT", zxingcpp.BarcodeFormat.Code39).rotate(90, expand=True)
    assert read_barcodes(sheet, half_size(sheet), little_text=True) == ["PATCHT"]
    assert read_barcodes(sheet, half_size(sheet), little_text=False) == []
    upright = barcode_page("PATCHT", zxingcpp.BarcodeFormat.Code39)
    assert read_barcodes(upright, half_size(upright), little_text=False) == ["PATCHT"]
