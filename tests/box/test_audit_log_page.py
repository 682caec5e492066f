"""The audit log page as an admin reads it: filters by user, by any part of an action's name,
by patient (the patient and their documents) and by dates; objects link to their pages; details
read as words."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from appliance.models import Patient
from tests.factories import make_document


@pytest.fixture
def two_patients(box):
    smith = Patient.create(mrn="00123456", last_name="Smith", first_name="John", dob=dt.date(1975, 3, 14))
    roe = Patient.create(mrn="77702", last_name="Roe", first_name="Richard", dob=dt.date(1969, 7, 20))
    return smith, make_document(box, patient=smith), roe, make_document(box, patient=roe)


def rows(html: str) -> list[str]:
    return re.findall(r"<tr><td data-label=\"When \(UTC\)\">.*?</tr>", html, flags=re.S)


def test_the_action_filter_matches_any_part_of_the_name(admin_client, two_patients):
    _, smith_letter, _, _ = two_patients
    admin_client.get(f"/documents/{smith_letter.id}")
    admin_client.get(f"/documents/{smith_letter.id}/original")
    html = admin_client.get("/audit?action=download").get_data(as_text=True)
    assert len(rows(html)) == 1 and "document.download" in html
    assert "document.view" not in html


def test_the_patient_filter_shows_the_patient_and_their_documents_only(admin_client, two_patients):
    smith, smith_letter, _, roe_letter = two_patients
    admin_client.get(f"/patients/{smith.id}")
    admin_client.get(f"/documents/{smith_letter.id}")
    admin_client.get(f"/documents/{roe_letter.id}")
    html = admin_client.get("/audit?patient=00123456").get_data(as_text=True)
    shown = rows(html)
    assert len(shown) == 2
    assert f'href="/documents/{smith_letter.id}"' in html and f'href="/patients/{smith.id}"' in html
    assert f"/documents/{roe_letter.id}" not in html
    unknown = admin_client.get("/audit?patient=99999").get_data(as_text=True)
    assert "No patient has that MRN" in unknown and rows(unknown) == []


def test_details_read_as_words_not_json(admin_client, two_patients):
    from appliance import audit

    _, smith_letter, _, _ = two_patients
    audit.record("scan.duplicate", obj=smith_letter.scan, duplicate_of=7, fields={"doc_type": "referral"}, ok=True)
    html = admin_client.get("/audit?action=duplicate").get_data(as_text=True)
    assert "{&#34;" not in html and '{"' not in html
    assert '<span class="muted">duplicate of:</span> 7' in html
    assert '<span class="muted">fields:</span> doc type referral' in html
    assert '<span class="muted">ok:</span> yes' in html


def test_an_export_keeps_the_patient_filter_as_an_id_never_the_mrn(admin_client, two_patients):
    smith, *_ = two_patients
    admin_client.get("/audit.csv?patient=00123456")
    from appliance.models import AuditEvent

    export = AuditEvent.select().where(AuditEvent.action == "audit.export").get()
    assert export.detail["filters"] == {"patient": smith.id}
    assert "00123456" not in str(export.detail)
