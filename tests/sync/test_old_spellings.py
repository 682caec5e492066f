"""Spellings of releases before 2026-12 still work, for scripts and boxes in the field: the box's
`python -m appliance.sync enroll` (now `enrol`), the hub's `python -m cloud_hub enrollment-token`
(now `enrolment-token`) and the hub's POST /api/v1/sync/enroll (now /api/v1/sync/enrol)."""

import os
import subprocess
import sys
from pathlib import Path

from appliance.sync import state as sync_state
from cloud_hub import create_app
from cloud_hub.config import HubConfig
from cloud_hub.db import database
from cloud_hub.devices import issue_enrolment_token
from cloud_hub.models import Device, EnrolmentToken
from sync import protocol
from tests.hub_fixtures import Box

ROOT = Path(__file__).resolve().parents[2]


def run(module: str, *args, env: dict):
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_box_still_takes_the_enroll_command(box, served_hub, tenants):
    with database.connection_context():
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(box.data_dir), APPLIANCE_INBOX=str(box.inbox))
    enrolled = run("appliance.sync", "enroll", "--hub", served_hub, "--token", token, "--name", "Old desk", env=env)
    assert enrolled.returncode == 0, enrolled.stderr
    assert "enrolled with" in enrolled.stdout and "'North'" in enrolled.stdout
    device_id = sync_state.get(sync_state.DEVICE_ID)
    assert sync_state.get(sync_state.HUB_URL) == served_hub
    with database.connection_context():
        device = Device.get(Device.uid == device_id)
        assert device.name == "Old desk" and device.clinic_id == tenants["north"].id
    status = run("appliance.sync", "status", "--json", env=env)
    assert status.returncode == 0 and device_id in status.stdout
    again = run("appliance.sync", "enroll", "--hub", served_hub, "--token", token, env=env)
    assert again.returncode == 2 and "already enrolled" in again.stderr


def test_the_hub_still_takes_the_enrollment_token_command(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "S3_BUCKET")}
    env["HUB_DATA_DIR"] = str(tmp_path / "hub")
    assert run("cloud_hub", "create-org", "Acme Health", "--clinic", "North", env=env).returncode == 0
    issued = run("cloud_hub", "enrollment-token", "--org", "Acme Health", "--clinic", "North", "--hours", "2", env=env)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("dfe_") and "one-time enrolment token for clinic 'North'" in issued.stderr
    app = create_app(HubConfig(data_dir=tmp_path / "hub", secure_cookies=False))
    key = protocol.public_key_text(protocol.new_private_key())
    answer = app.test_client().post("/api/v1/sync/enrol", json={"token": token, "public_key": key})
    assert answer.status_code == 201 and answer.get_json()["clinic"]["name"] == "North"
    database.close()


def test_the_hub_still_enrols_a_box_at_the_enroll_path(hub_app, tenants):
    with database.connection_context():
        token, row = issue_enrolment_token(tenants["south"], created_by="test", hours=1)
    key = protocol.new_private_key()
    client = hub_app.test_client()
    answer = client.post(
        "/api/v1/sync/enroll", json={"token": token, "public_key": protocol.public_key_text(key), "name": "old box"}
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["clinic"]["id"] == tenants["south"].id
    box = Box(client, answer.get_json()["device_id"], key)
    signed = box.request("GET", "/api/v1/sync/device")
    assert signed.status_code == 200 and signed.get_json()["name"] == "old box"
    with database.connection_context():
        assert EnrolmentToken.get_by_id(row.id).used_at is not None
    for path in ("/api/v1/sync/enroll", "/api/v1/sync/enrol"):
        reused = client.post(path, json={"token": token, "public_key": protocol.public_key_text(key)})
        assert reused.status_code == 400 and "already been used" in reused.get_json()["message"]
