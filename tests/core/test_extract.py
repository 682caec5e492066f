"""Reading identifiers, dates and document type from text (no OCR needed)."""

import datetime as dt

import pytest

from appliance.config import ConfigError
from core.ingest.dates import find_dates
from core.ingest.extract import classify, extract, load_type_rules, parse_name

D = dt.date


@pytest.mark.parametrize(
    "label",
    [
        "MRN",
        "MRN:",
        "M.R.N.",
        "Medical Record No.",
        "Medical Record Number:",
        "Patient ID:",
        "Record #",
        "Record No:",
        "Hospital No.",
    ],
)
def test_mrn_label_variants(label):
    assert extract(f"{label} 00123456\nother text", "DMY").mrns == ["00123456"]


def test_mrn_is_normalised_and_needs_a_digit():
    assert extract("MRN: ab-12-34", "DMY").mrns == ["AB1234"]
    assert extract("Record No: PENDING", "DMY").mrns == []


@pytest.mark.parametrize(
    "raw,last,first",
    [
        ("SMITH, John", "Smith", "John"),
        ("Smith, John Andrew", "Smith", "John"),
        ("John Smith", "Smith", "John"),
        ("Mrs Mary Anne O'Neil", "O'Neil", "Mary"),
        ("DUPONT-MARTIN, Élodie", "Dupont-Martin", "Élodie"),
    ],
)
def test_name_forms(raw, last, first):
    name = parse_name(raw)
    assert (name.last, name.first) == (last, first)


def test_name_stops_at_next_label_and_skips_other_people():
    text = "Patient Name: SMITH, John DOB: 14/03/1975\nReferring Physician Name: Dr Jane Doe\nWitness Name: Bob Roe"
    result = extract(text, "DMY")
    assert [n.display() for n in result.names] == ["Smith, John"]
    assert result.dobs == [D(1975, 3, 14)]


def test_name_that_is_not_a_name_is_ignored():
    assert extract("Name: 12345 67", "DMY").names == []


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1975-03-14", D(1975, 3, 14)),
        ("14/03/1975", D(1975, 3, 14)),
        ("03/14/1975", D(1975, 3, 14)),
        ("14 Mar 1975", D(1975, 3, 14)),
        ("14th March 1975", D(1975, 3, 14)),
        ("March 14, 1975", D(1975, 3, 14)),
        ("14-Mar-1975", D(1975, 3, 14)),
        ("14.03.1975", D(1975, 3, 14)),
    ],
)
def test_date_formats(text, expected):
    assert find_dates(text, "DMY")[0].value == expected


def test_ambiguous_date_follows_configuration_and_says_so():
    dmy, mdy = find_dates("04/03/2024", "DMY")[0], find_dates("04/03/2024", "MDY")[0]
    assert dmy.value == D(2024, 3, 4) and mdy.value == D(2024, 4, 3)
    assert "DMY configured" in dmy.note and "MDY configured" in mdy.note
    result = extract("Report Date: 04/03/2024", "MDY")
    assert result.doc_date == D(2024, 4, 3)
    assert any("read as 2024-04-03" in note for note in result.notes)


def test_invalid_dates_are_not_dates():
    assert find_dates("31/02/2020 and 45/45/2020", "DMY") == []


def test_document_date_prefers_labels_and_never_takes_the_birth_date():
    text = "DOB: 01/02/1960\nSome line 05/06/2019\nDate of Service: 2024-01-15"
    assert extract(text, "DMY").doc_date == D(2024, 1, 15)
    assert extract("DOB: 01/02/1960\nSeen on 2023-07-08", "DMY").doc_date == D(2023, 7, 8)


@pytest.mark.parametrize(
    "text,doc_type",
    [
        ("LABORATORY REPORT\nSpecimen: blood\nReference range 1-2", "lab_report"),
        ("REFERRAL\nDear Dr Brown, I referred this patient", "referral"),
        ("PRESCRIPTION\nRx Amoxicillin 500 mg tablets\nDispense 21, Refills 0", "prescription"),
        ("DISCHARGE SUMMARY\nAdmission date 1/1/2024\nDischarge diagnosis: pneumonia", "discharge_summary"),
        ("CONSENT FORM\nI hereby consent to the procedure. Signature of patient", "consent_form"),
        ("INVOICE\nBill to: clinic\nAmount due: 40.00", "invoice"),
        ("Some note about the weather", "other"),
    ],
)
def test_document_types(text, doc_type):
    assert extract(text, "DMY").doc_type == doc_type


def test_document_type_rules_can_be_configured(tmp_path):
    rules_file = tmp_path / "rules.json"
    rules_file.write_text('{"invoice": ["statement of account"], "referral": ["referral"]}')
    rules = load_type_rules(rules_file)
    assert classify("STATEMENT OF ACCOUNT for March", rules) == "invoice"
    rules_file.write_text('{"x-ray": ["film"]}')
    with pytest.raises(ConfigError, match="unknown document types"):
        load_type_rules(rules_file)


@pytest.mark.parametrize(
    "label",
    ["Hosp No:", "Hospital Number", "Unit No.", "Chart No:", "Patient No:", "Patient: ID:", "Case No", "M.R.N.:"],
)
def test_more_mrn_label_styles(label):
    assert extract(f"{label} 29701664\n", "DMY").mrns == ["29701664"]


def test_surname_and_forename_labels_make_one_name():
    for text in ("Surname: O'NEILL\nForename(s): Patrick James", "Family name: O'Neill\nGiven name(s): Patrick"):
        assert [n.display() for n in extract(text, "DMY").names] == ["O'Neill, Patrick"]


def test_the_one_line_form_gives_name_and_date_of_birth():
    result = extract("LINDQVIST, ERIK (11-Nov-1984) MRN 44556677", "DMY")
    assert [n.display() for n in result.names] == ["Lindqvist, Erik"]
    assert result.dobs == [D(1984, 11, 11)] and result.mrns == ["44556677"]


def test_a_letters_re_line_names_the_patient_only_beside_an_identifier():
    assert [n.display() for n in extract("Re: Mary Allen MRN 29701664", "DMY").names] == ["Allen, Mary"]
    assert extract("Re: Blood Results\nMRN 29701664", "DMY").names == []


@pytest.mark.parametrize(
    "text",
    [
        "D.O.B.: 23.11.1961",
        "Born: 23 November 1961",
        "Date of birth: 1961-11-23",
        "DOB 23/11/1961",
        "D.O,B.: 23/11/1961",
    ],
)
def test_date_of_birth_label_styles(text):
    assert extract(text, "DMY").dobs == [D(1961, 11, 23)]


def test_an_nhs_number_is_checked_and_kept_apart_from_the_mrn():
    result = extract("NHS No: 943 476 5919\nMRN: 61200031\nNHS Number 943 476 5918", "DMY")
    assert result.mrns == ["61200031"] and result.nhs_numbers == ["9434765919"]
    assert "9434765918 fails its check digit" in result.notes[0]


def test_ocr_word_confidence_travels_with_each_identifier():
    text = "MRN: 29701G64\nName: Mary Allen"
    words = [(0, 4, 96), (5, 13, 41), (14, 19, 95), (20, 24, 93), (25, 30, 90)]
    result = extract(text, "DMY", words=words)
    assert result.mrn_reads[0].confidence == 41 and result.name_reads[0].confidence == 90
    assert extract(text, "DMY").mrn_reads[0].confidence is None


def test_the_title_names_the_type_and_body_words_only_break_ties():
    rules = load_type_rules(None)
    consent = "CONSENT FORM\nNorth Street Clinic\n\nI was referred by my GP. Reason for referral: knee. Referred."
    assert classify(consent, rules) == "consent_form"
    assert classify("Some clinic\n\n\n\nThank you for seeing this patient, referred for review.", rules) == "referral"
