"""The whole pipeline with real Tesseract on generated A4 300 dpi scans, through the CLI.

All files go through one `python -m appliance process --json --with-text` run (the OCR pool
reads them in parallel); each test then checks what one file became.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import zxingcpp

from tests.factories import barcode_page, record_lines, render_page, save_image, save_pdf, save_tiff, text_layer_pdf

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.ocr
SMITH = {"mrn": "00123456", "name": "Smith, John", "dob": "1975-03-14"}
DOE = {"mrn": "55501", "name": "Doe, Jane", "dob": "1980-01-02"}
ROE = {"mrn": "77702", "name": "Roe, Richard", "dob": "1969-07-20"}


def doe_lines(title="REFERRAL LETTER"):
    return record_lines(
        mrn="55501",
        name="Jane Doe",
        dob="1980-01-02",
        title=title,
        body=[
            "Dear Dr Brown, I am writing to refer this patient for review.",
            "Reason for referral: persistent cough for six weeks.",
        ],
    )


def roe_lines():
    return record_lines(
        mrn="77702",
        name="ROE, Richard",
        dob="20 Jul 1969",
        title="PRESCRIPTION",
        body=[
            "Rx Amoxicillin 500 mg tablets, take one three times daily.",
            "Dispense 21 tablets. Refills: none.",
        ],
    )


def make_scans(folder: Path) -> dict[str, Path]:
    page = lambda lines, **kw: render_page(lines, noise=0.0004, **kw)  # noqa: E731
    smith = record_lines()
    scans = {
        "image_pdf": save_pdf([page(smith, rotate=0.8)], folder / "lab.pdf"),
        "text_pdf": text_layer_pdf(doe_lines(), folder / "letter.pdf"),
        "tiff_multi": save_tiff(
            [page(roe_lines()), page(["Page 2 of the prescription", "Pharmacy copy"])], folder / "rx.tiff"
        ),
        "tiff_g4": save_tiff([page(smith, seed=3)], folder / "fax.tif", group4=True),
        "jpeg": save_image(
            page([*doe_lines("DISCHARGE SUMMARY"), "Discharge diagnosis: bronchitis"]), folder / "photo.jpg", "JPEG"
        ),
        "png": save_image(page(roe_lines(), seed=5), folder / "scan.png", "PNG"),
        "upside_down": save_image(
            page(record_lines(title="INVOICE", body=["Amount due: 40.00"]), turn=180), folder / "upside.png", "PNG"
        ),
        "sideways": save_image(
            page([*doe_lines("CONSENT FORM"), "I hereby consent to the procedure."], turn=90),
            folder / "sideways.png",
            "PNG",
        ),
        "skewed": save_image(page(roe_lines(), rotate=7), folder / "skewed.png", "PNG"),
        "no_mrn": save_image(page(record_lines(mrn=None)), folder / "no-mrn.png", "PNG"),
        "separated": save_pdf(
            [
                page(smith, seed=7),
                barcode_page("MRN:55501", caption="Cover sheet"),
                page(["Progress note", "Seen today, feeling better.", "Plan: review in two weeks."]),
                barcode_page("PATCHT", zxingcpp.BarcodeFormat.Code39),
                page(roe_lines(), seed=9),
            ],
            folder / "batch.pdf",
        ),
    }
    scans["again"] = Path(shutil.copy(scans["image_pdf"], folder / "lab-again.pdf"))
    return scans


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scans")
    scans = make_scans(folder)
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(folder / "data"), APPLIANCE_OCR_PROCESSES="2")
    run = subprocess.run(
        [sys.executable, "-m", "appliance", "process", "--json", "--with-text", *map(str, scans.values())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    by_file = {row["file"]: row for row in lines}
    return {key: by_file[str(path)] for key, path in scans.items()}, env, lines


def test_every_file_gets_one_line_with_the_documented_fields(outcome):
    results, _, lines = outcome
    assert len(lines) == len(results)
    for row in lines:
        assert {
            "file",
            "status",
            "document_id",
            "sha256",
            "patient",
            "doc_type",
            "doc_date",
            "pages",
            "reason",
            "text",
        } <= set(row)


@pytest.mark.parametrize(
    "key,patient,doc_type,pages",
    [
        ("image_pdf", SMITH, "lab_report", 1),
        ("text_pdf", DOE, "referral", 1),
        ("tiff_multi", ROE, "prescription", 2),
        ("tiff_g4", SMITH, "lab_report", 1),
        ("jpeg", DOE, "discharge_summary", 1),
        ("png", ROE, "prescription", 1),
    ],
)
def test_every_format_is_read_and_filed(outcome, key, patient, doc_type, pages):
    row = outcome[0][key]
    assert row["status"] == "filed", row["reason"]
    assert row["patient"] == patient
    assert row["doc_type"] == doc_type
    assert row["pages"] == pages == len(row["text"])
    assert row["doc_date"] == "2024-04-02"


def test_multi_page_tiff_keeps_each_pages_text(outcome):
    text = outcome[0]["tiff_multi"]["text"]
    assert "Amoxicillin" in text[0] and "Pharmacy copy" in text[1]


@pytest.mark.parametrize(
    "key,patient,word",
    [
        ("upside_down", SMITH, "Amount due"),
        ("sideways", DOE, "consent"),
        ("skewed", ROE, "Amoxicillin"),
    ],
)
def test_turned_and_skewed_pages_are_straightened_and_read(outcome, key, patient, word):
    row = outcome[0][key]
    assert word in row["text"][0]
    assert row["status"] == "filed", row["reason"]
    assert row["patient"] == patient


def test_missing_mrn_goes_to_review_with_the_reason(outcome):
    row = outcome[0]["no_mrn"]
    assert row["status"] == "needs_review" and row["patient"] is None
    assert "no MRN found" in row["reason"]


def test_separator_sheets_split_the_scan_and_assign_patients(outcome):
    row = outcome[0]["separated"]
    assert row["pages"] == 5
    documents = row["documents"]
    assert [d["patient"] for d in documents] == [SMITH, DOE, ROE]
    assert [d["pages"] for d in documents] == [1, 1, 1]
    assert all(d["status"] == "filed" for d in documents)


def test_same_scan_twice_is_a_duplicate_not_a_second_document(outcome):
    results = outcome[0]
    assert results["again"]["status"] == "duplicate"
    assert results["again"]["document_id"] == results["image_pdf"]["document_id"]


def test_filed_text_is_searchable_with_ranked_highlighted_hits(outcome):
    _, env, _ = outcome
    run = subprocess.run(
        [sys.executable, "-m", "appliance", "search", "amoxicillin", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    hits = [json.loads(line) for line in run.stdout.splitlines()]
    assert hits and all("[Amoxicillin]" in hit["snippet"] for hit in hits)
    assert {hit["patient"]["mrn"] for hit in hits} == {"77702"}
    assert hits == sorted(hits, key=lambda hit: -hit["score"])


def test_status_counts_what_happened(outcome):
    _, env, _ = outcome
    run = subprocess.run(
        [sys.executable, "-m", "appliance", "status", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    status = json.loads(run.stdout)
    assert status["documents"]["needs_review"] >= 1
    assert status["scans"]["duplicate"] == 1
    assert status["queue_depth"] == 0


def test_thumbnails_exist_for_every_page(outcome):
    _, env, _ = outcome
    thumbs = list(Path(env["APPLIANCE_DATA_DIR"], "thumbs").rglob("*.jpg"))
    assert len(thumbs) >= 16
