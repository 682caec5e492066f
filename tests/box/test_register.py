"""The patient register: imported from a CSV or FHIR R4 export on the command line and the admin
page (with a preview), upserted by MRN, never deleting, idempotent, audited without patient data,
queued for the hub, exported back; once it is on the box, documents no longer create patients."""

import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from appliance import box_settings
from appliance.doc_types import type_names
from appliance.ingest.recording import filing_rules
from appliance.models import AuditEvent, Outbox, Patient
from appliance.register import export_csv, import_register
from tests.conftest import token_of

ROOT = Path(__file__).resolve().parents[2]
CSV = b"""mrn,last_name,first_name,dob
00123456,Smith,John,1975-03-14
00123457,Smith,John,09/07/1982
,Nobody,Here,2000-01-01
77,Bad,Date,31/02/1990
00123456,Again,John,1975-03-14
88,,Lone,1990-01-01
"""


def fhir_patient(mrn, family, given, birth, system="urn:oid:2.16.840.1.113883.19.5", typed=True):
    identifier = {"system": system, "value": mrn}
    if typed:
        identifier["type"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
    return {
        "resourceType": "Patient",
        "identifier": [identifier, {"system": "urn:nhs", "value": "9434765919"}],
        "name": [{"family": family, "given": [given, "Middle"]}],
        "birthDate": birth,
    }


def test_a_csv_register_is_upserted_by_mrn_with_every_refusal_named_by_line(box):
    report = import_register("register.csv", CSV, "DMY", "", actor="test")
    assert [r.mrn for r in report.added] == ["00123456", "00123457"]
    assert report.refused == [
        (4, "no MRN"),
        (5, "MRN 77: date of birth '31/02/1990' is not a date"),
        (6, "MRN 00123456 appears again (first on line 2)"),
        (7, "MRN 88: last and first name are both required"),
    ]
    assert Patient.get(Patient.mrn == "00123457").dob == dt.date(1982, 7, 9)
    assert Patient.get(Patient.mrn == "00123456").source == "register"
    again = import_register("register.csv", CSV, "DMY", "", actor="test")
    assert (len(again.added), len(again.updated), len(again.unchanged)) == (0, 0, 2)
    changed = import_register(
        "r.csv", b"mrn,last_name,first_name,dob\n00123456,Smyth,John,1975-03-14\n", "DMY", "", actor="test"
    )
    assert [(row.mrn, changes) for row, changes in changed.updated] == [("00123456", {"last_name": "Smyth"})]
    assert Patient.select().count() == 2  # never deletes: 00123457 is not in the last file and stays


def test_an_import_is_audited_by_counts_only_and_queued_for_the_hub(box):
    import_register("register.csv", CSV, "DMY", "", actor="admin")
    event = AuditEvent.get(AuditEvent.action == "patients.import")
    assert event.detail["added"] == 2 and event.detail["refused"] == 4
    assert "Smith" not in json.dumps(event.detail)
    assert Outbox.select().where(Outbox.kind == "patient").count() == 2


def test_fhir_bundles_and_ndjson_are_read_with_the_mrn_from_the_identifier_the_setting_names(box):
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": fhir_patient("A100", "García", "Lucía", "1987-04-17")},
            {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}},
            {"resource": {**fhir_patient("A101", "Bad", "Date", "1990-1-1")}},
        ],
    }
    report = import_register("patients.json", json.dumps(bundle).encode(), "DMY", "", actor="test")
    assert [r.mrn for r in report.added] == ["A100"]
    assert report.refused[0] == (2, "not a FHIR Patient resource")
    assert report.refused[1][0] == 3 and "birthDate" in report.refused[1][1]
    assert Patient.get(Patient.mrn == "A100").first_name == "Lucía"
    lines = [json.dumps(fhir_patient("B1", "Doe", "Jane", "1980-01-02", system="urn:clinic:mrn", typed=False))]
    untyped = import_register("p.ndjson", "\n".join(lines).encode(), "DMY", "", actor="test")
    assert untyped.refused == [(1, "no MRN")]  # two identifiers, none typed MR: which is the MRN is not guessed
    named = import_register("p.ndjson", "\n".join(lines).encode(), "DMY", "urn:clinic:mrn", actor="test")
    assert [r.mrn for r in named.added] == ["B1"]


def test_once_a_register_is_imported_documents_no_longer_create_patients(box):
    assert filing_rules(box).new_patients == "confident"
    import_register("register.csv", CSV, "DMY", "", actor="test")
    assert box_settings.register_imported() and filing_rules(box).new_patients == "never"
    assert filing_rules(box.with_overrides(new_patients="confident")).new_patients == "confident"


def test_the_command_line_imports_previews_and_exports(box, tmp_path):
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(box.data_dir))
    (tmp_path / "register.csv").write_bytes(CSV)

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "appliance", "patients", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    dry = cli("import", str(tmp_path / "register.csv"), "--dry-run")
    assert dry.returncode == 0 and "would import: 2 added, 0 updated, 0 unchanged, 4 refused" in dry.stdout
    assert "line 5: refused: MRN 77: date of birth" in dry.stderr
    assert Patient.select().count() == 0
    done = cli("import", str(tmp_path / "register.csv"))
    assert done.returncode == 0 and "imported: 2 added" in done.stdout
    exported = cli("export", "--to", str(tmp_path / "out.csv"))
    assert exported.returncode == 0
    assert (tmp_path / "out.csv").read_text() == export_csv()
    assert export_csv().splitlines()[1] == "00123456,Smith,John,1975-03-14"
    bad = cli("import", str(tmp_path / "missing.csv"))
    assert bad.returncode == 2 and "missing.csv" in bad.stderr


def test_the_admin_page_shows_the_changes_before_applying_them(box, admin_client, staff_client):
    assert staff_client.get("/admin/register").status_code == 403
    token = token_of(admin_client, "/admin/register")
    page = admin_client.post(
        "/admin/register/preview",
        data={"csrf_token": token, "file": (io.BytesIO(CSV), "register.csv")},
        content_type="multipart/form-data",
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "2</strong> to add" in html and "31/02/1990" in html
    assert Patient.select().count() == 0
    pending = re.search(r'name="token" value="([0-9a-f]+)"', html).group(1)
    applied = admin_client.post(
        "/admin/register/apply",
        data={"csrf_token": token, "token": pending, "name": "register.csv"},
        follow_redirects=True,
    )
    assert "Register imported: 2 added" in applied.get_data(as_text=True)
    assert Patient.select().count() == 2
    replay = admin_client.post(
        "/admin/register/apply", data={"csrf_token": token, "token": pending}, follow_redirects=True
    )
    assert "preview has expired" in replay.get_data(as_text=True)
    csv = admin_client.get("/admin/register.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv" and b"00123457,Smith,John" in csv.data


def test_document_types_are_edited_on_the_admin_page(box, admin_client):
    token = token_of(admin_client, "/admin/doc-types")
    bad = admin_client.post("/admin/doc-types", data={"csrf_token": token, "rules": "letter"}, follow_redirects=True)
    assert "needs at least one keyword" in bad.get_data(as_text=True)
    admin_client.post(
        "/admin/doc-types", data={"csrf_token": token, "rules": "radiology: x-ray, radiograph\nlab_report: laboratory"}
    )
    assert type_names(box) == ["lab_report", "radiology", "other"]
    assert AuditEvent.get(AuditEvent.action == "settings.doc_types").detail["types"] == ["lab_report", "radiology"]
