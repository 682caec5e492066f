"""One filing rule: the box's ingest and the hub's upload job decide the same table of documents
the same way, each against its own database, with its own reading settings."""

import datetime as dt

import pytest

from appliance.ingest.recording import filing_decision as box_decision
from appliance.models import Patient as BoxPatient
from cloud_hub import uploads
from cloud_hub.db import database as hub_database
from cloud_hub.models import Clinic
from cloud_hub.models import Patient as HubPatient
from core.ingest.extract import DEFAULT_TYPE_RULES
from core.ingest.pages import PageResult

PATIENTS = [
    ("00123456", "Smith", "John", dt.date(1975, 3, 14)),
    ("4242", "Müller", "Zoë", dt.date(1990, 5, 6)),
    ("5150", "Doe", "Jane", dt.date(1980, 2, 1)),
]
CASES = {
    "agreeing identifiers": (["MRN: 00123456\nPatient Name: SMITH, John\nDOB: 14/03/1975"], "filed"),
    "name in another case, without accents": (["MRN: 4242\nName: MULLER, Zoe"], "filed"),
    "only the MRN": (["MRN: 00123456"], "needs_review"),
    "name contradicts the record": (["MRN: 00123456\nName: Jane Smith"], "needs_review"),
    "no MRN": (["Name: John Smith\nDOB: 14/03/1975"], "needs_review"),
    "new patient fully read": (["MRN: 777\nName: HARTLEY, Grace\nDOB: 1999-06-15"], "filed"),
    "new patient near a known one": (["MRN: 778\nName: DOE, Janet\nDOB: 1980-01-02"], "needs_review"),
    "new MRN for a known name and date of birth": (["MRN: 9999\nName: muller, zoe\nDOB: 1990-05-06"], "needs_review"),
    "ambiguous day and month": (["MRN: 5150\nName: Jane Doe\nDOB: 01/02/1980"], None),
    "an unreadable page": (["MRN: 00123456\nName: SMITH, John", None], "needs_review"),
    "no text at all": (["", ""], "needs_review"),
}


def pages_of(texts):
    return [
        PageResult(
            number=i + 1,
            text=text or "",
            text_source="ocr",
            confidence=90.0,
            rotation=0,
            barcodes=[],
            thumbnail="",
            problem=None if text is not None else f"page {i + 1}: OCR timed out",
        )
        for i, text in enumerate(texts)
    ]


def outcome(decision):
    patient = decision.patient.mrn if decision.patient is not None else None
    created = decision.new_patient["mrn"] if decision.new_patient else None
    return decision.status, decision.reason, patient, created


@pytest.mark.parametrize("order", ["DMY", "MDY"])
def test_box_and_hub_file_the_same_documents_the_same_way(box_config, box, hub_app, hub_config, tenants, order):
    for mrn, last, first, dob in PATIENTS:
        BoxPatient.create(mrn=mrn, last_name=last, first_name=first, dob=dob)
    config = box_config.with_overrides(date_order=order)
    with hub_database.connection_context():
        clinic = tenants["north"]
        Clinic.update(date_order=order if order != hub_config.date_order else None).where(
            Clinic.id == clinic.id
        ).execute()
        clinic = Clinic.get_by_id(clinic.id)
        for mrn, last, first, dob in PATIENTS:
            HubPatient.create(
                organisation=clinic.organisation_id, clinic=clinic, mrn=mrn, last_name=last, first_name=first, dob=dob
            )
        at_hub = {
            name: outcome(uploads.filing_decision(hub_config, clinic, pages_of(texts))[1])
            for name, (texts, _) in CASES.items()
        }
    at_box = {
        name: outcome(box_decision(pages_of(texts), None, config, DEFAULT_TYPE_RULES, [])[1])
        for name, (texts, _) in CASES.items()
    }
    assert at_box == at_hub
    for name, (_, expected) in CASES.items():
        if expected:
            assert at_box[name][0] == expected, name
    # 01/02/1980 is 1 February read day first, and agrees with the record only in that order.
    assert at_box["ambiguous day and month"][0] == ("filed" if order == "DMY" else "needs_review")
