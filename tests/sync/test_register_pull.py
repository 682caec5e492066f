"""A clinic's register imported at the hub reaches its boxes through the pull: the patients appear
on the box as register patients, and the box then stops creating patients from documents."""

import os
import subprocess
import sys
from pathlib import Path

from appliance import box_settings
from appliance.ingest.recording import filing_rules
from appliance.models import Patient as BoxPatient
from cloud_hub.db import database as hub_database
from cloud_hub.devices import issue_enrolment_token
from cloud_hub.models import Change
from cloud_hub.models import Patient as HubPatient
from cloud_hub.register import apply, plan
from tests.sync.test_sync_agent import sync_cli

ROOT = Path(__file__).resolve().parents[2]
REGISTER = b"mrn,last_name,first_name,dob\n500100,Okafor,Chidi,1990-01-05\n500101,Dubois,Claire,21/05/1993\n"


def test_a_register_imported_at_the_hub_is_pulled_by_the_clinics_box(box, served_hub, hub_config, tenants, tmp_path):
    with hub_database.connection_context():
        north = tenants["north"]
        report = apply(north, plan(north, "register.csv", REGISTER, hub_config.date_order), "test", "register.csv")
        assert len(report.added) == 2
        again = plan(north, "register.csv", REGISTER, hub_config.date_order)
        assert (len(again.added), len(again.unchanged)) == (0, 2)
        assert HubPatient.select().where(HubPatient.clinic == tenants["south"].id).count() == 0
        assert Change.select().where(Change.kind == "patient.correct").count() == 2
        token, _ = issue_enrolment_token(north, created_by="test", hours=1)
    assert filing_rules(box).new_patients == "confident"
    assert sync_cli(box, "enrol", "--hub", served_hub, "--token", token).returncode == 0
    assert sync_cli(box, "once").returncode == 0
    pulled = {p.mrn: p for p in BoxPatient.select()}
    assert set(pulled) == {"500100", "500101"} and {p.source for p in pulled.values()} == {"register"}
    assert pulled["500101"].first_name == "Claire"
    assert box_settings.register_imported() and filing_rules(box).new_patients == "never"


def test_the_hub_command_line_previews_and_imports_a_clinics_register(hub_app, hub_config, tenants, tmp_path):
    env = dict(
        os.environ,
        HUB_DATA_DIR=str(hub_config.data_dir),
        DATABASE_URL=hub_config.database_url,
        REDIS_URL=hub_config.redis_url,
        S3_BUCKET=hub_config.s3_bucket,
        S3_ENDPOINT_URL=hub_config.s3_endpoint_url,
    )
    (tmp_path / "register.csv").write_bytes(REGISTER + b"9,,Nobody,2000-01-01\n")

    def hub_cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "cloud_hub", "patients-import", "--org", "Acme Health", "--clinic", "North", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    dry = hub_cli("--dry-run", str(tmp_path / "register.csv"))
    assert dry.returncode == 0 and "would import: 2 added, 0 updated, 0 unchanged, 1 refused" in dry.stdout
    assert "line 4: refused: MRN 9: last and first name are both required" in dry.stderr
    with hub_database.connection_context():
        assert HubPatient.select().count() == 0
    done = hub_cli(str(tmp_path / "register.csv"))
    assert done.returncode == 0 and "imported into 'North': 2 added" in done.stdout
    with hub_database.connection_context():
        assert HubPatient.select().where(HubPatient.clinic == tenants["north"].id).count() == 2
