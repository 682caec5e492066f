"""The filing rule: file only when identifiers agree; every doubt goes to review with a reason.

The rule is pure: patients come from finders the caller injects (here, a list in memory).
"""

import datetime as dt
from types import SimpleNamespace

import pytest

from core.ingest.extract import extract
from core.ingest.filing import Reading, decide
from core.ingest.separators import Separator

REGISTER: list[SimpleNamespace] = []


def add_patient(mrn, last_name, first_name, dob):
    patient = SimpleNamespace(mrn=mrn, last_name=last_name, first_name=first_name, dob=dob)
    REGISTER.append(patient)
    return patient


@pytest.fixture
def box():
    REGISTER.clear()
    yield REGISTER
    REGISTER.clear()


@pytest.fixture
def smith(box):
    return add_patient("00123456", "Smith", "John", dt.date(1975, 3, 14))


def run(text, separator=None, order="DMY", **reading):
    return decide(
        Reading(extract(text, order), separator, **reading),
        lambda mrn: next((p for p in REGISTER if p.mrn == mrn), None),
        lambda dob: [p for p in REGISTER if p.dob == dob],
        order,
    )


def test_files_when_mrn_name_and_dob_agree(smith):
    decision = run("MRN: 00123456\nPatient Name: SMITH, John\nDOB: 14/03/1975")
    assert decision.status == "filed" and decision.patient is smith


def test_files_with_mrn_and_one_agreeing_identifier(smith):
    assert run("MRN: 00123456\nName: John Smith").status == "filed"
    assert run("MRN: 00123456\nDate of Birth: 1975-03-14").status == "filed"


@pytest.mark.parametrize(
    "text,reason",
    [
        ("MRN: 00123456", "only the MRN 00123456 was read"),
        ("MRN: 00123456\nName: Jane Smith", "name Smith, Jane does not match the record"),
        ("MRN: 00123456\nName: John Smith\nDOB: 15/03/1975", "date of birth 1975-03-15 does not match"),
        ("Name: John Smith\nDOB: 14/03/1975", "no MRN found (read: name and date of birth)"),
        ("MRN: 00123456\nPatient ID: 999999\nName: John Smith", "conflicting MRNs"),
        ("MRN: 00123456\nName: John Smith\nPatient: Jim Smith", "more than one patient name"),
        ("Nothing useful here", "no MRN found"),
    ],
)
def test_doubt_goes_to_review_with_the_reason(smith, text, reason):
    decision = run(text)
    assert decision.status == "needs_review"
    assert reason in decision.reason
    assert decision.patient is None and decision.new_patient is None


def test_new_mrn_creates_patient_only_with_name_and_dob(box):
    decision = run("MRN: 777\nName: DOE, Jane\nDOB: 1980-01-02")
    assert decision.status == "filed"
    assert decision.new_patient == {"mrn": "777", "last_name": "Doe", "first_name": "Jane", "dob": dt.date(1980, 1, 2)}
    missing = run("MRN: 777\nName: DOE, Jane")
    assert missing.status == "needs_review" and "no date of birth" in missing.reason


def test_new_mrn_for_a_known_name_and_dob_is_suspicious(smith):
    decision = run("MRN: 00123465\nName: SMITH, John\nDOB: 14/03/1975")
    assert decision.status == "needs_review"
    assert "same name and date of birth has MRN 00123456" in decision.reason


def test_cover_sheet_mrn_assigns_unless_the_page_contradicts(smith):
    sheet = Separator(mrn="00123456", payload="MRN:00123456")
    assert run("Progress note, no identifiers", sheet).status == "filed"
    clash = run("MRN: 55555\nName: John Smith", sheet)
    assert clash.status == "needs_review" and "conflicting MRNs" in clash.reason
    assert run("Name: Jane Smith", sheet).status == "needs_review"


def test_name_comparison_ignores_case_and_accents(box):
    add_patient("4242", "Müller", "Zoë", dt.date(1990, 5, 6))
    assert run("MRN: 4242\nName: MULLER, Zoe").status == "filed"


@pytest.mark.parametrize(
    "reading,reason",
    [
        ({"page_problems": ("page 2: OCR timed out",)}, "page 2: OCR timed out"),
        ({"has_text": False}, "no text could be read from the document"),
    ],
)
def test_an_unreadable_page_or_no_text_sends_even_agreeing_identifiers_to_review(smith, reading, reason):
    decision = run("MRN: 00123456\nPatient Name: SMITH, John\nDOB: 14/03/1975", **reading)
    assert decision.status == "needs_review" and reason in decision.reason
    assert decision.patient is None and decision.new_patient is None
