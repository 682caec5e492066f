"""What a device key is worth: a stolen one cannot replace itself, a box fetches back only its own
clinic's originals, and enrolment never sends its token over plain HTTP to another machine."""

import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cloud_hub.db import database
from cloud_hub.devices import issue_enrolment_token, issue_rotation_token
from cloud_hub.models import AuditEvent, Device, EnrolmentToken
from sync import protocol
from tests.hub_fixtures import enrol_box, file_document, sign_in

ROOT = Path(__file__).resolve().parents[2]


def _device(box) -> Device:
    with database.connection_context():
        return Device.get(Device.uid == box.device_id)


def _rotation_token(box) -> str:
    with database.connection_context():
        return issue_rotation_token(_device(box), created_by="test", hours=1)[0]


def _rotate(box, new_key, token=None):
    body = {"public_key": protocol.public_key_text(new_key)}
    if token is not None:
        body["rotation_token"] = token
    return box.post_json("/api/v1/sync/device/key", body)


def test_a_stolen_device_key_alone_cannot_replace_itself(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    other = enrol_box(hub_app, tenants["north"], name="other box")
    thief_key = protocol.new_private_key()
    with database.connection_context():
        enrolment, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
        expired, row = issue_rotation_token(_device(box), created_by="test", hours=1)
        EnrolmentToken.update(expires_at=dt.datetime(2000, 1, 1)).where(EnrolmentToken.id == row.id).execute()
    for token in (None, "", "dfr_guess", enrolment, expired, _rotation_token(other)):
        refused = _rotate(box, thief_key, token)
        assert refused.status_code == 403, token
        assert refused.get_json()["error"] == "rotation_refused" and refused.get_json()["retry"] is False
    assert box.request("GET", "/api/v1/sync/device").status_code == 200  # the real box keeps working
    assert box.request("GET", "/api/v1/sync/device", key=thief_key).status_code == 401
    with database.connection_context():
        refusals = AuditEvent.select().where(AuditEvent.action == "device.rotate_key_refused").count()
    assert refusals == 6


def test_a_rotation_token_from_head_office_rotates_once_and_enrols_nothing(hub_app, tenants, people):
    box = enrol_box(hub_app, tenants["north"])
    it = sign_in(hub_app, "it@acme.test")
    devices_page = it.get("/devices").get_data(as_text=True)
    csrf = devices_page.split('name="csrf_token" value="')[1].split('"')[0]
    issued = it.post(f"/devices/{box.device_id}/rotation-token", data={"csrf_token": csrf})
    assert issued.status_code == 200
    token = issued.get_data(as_text=True).split("<strong>")[1].split("</strong>")[0]
    assert token.startswith("dfr_") and f"rotate-key --token {token}" in issued.get_data(as_text=True)

    stranger = hub_app.test_client().post(
        "/api/v1/sync/enrol", json={"token": token, "public_key": protocol.public_key_text(protocol.new_private_key())}
    )
    assert stranger.status_code == 400
    new_key = protocol.new_private_key()
    assert _rotate(box, new_key, token).status_code == 200
    assert box.request("GET", "/api/v1/sync/device").status_code == 401
    assert box.request("GET", "/api/v1/sync/device", key=new_key).status_code == 200
    assert _rotate(box, protocol.new_private_key(), token).status_code == 401  # signed with the old key
    again = box.request(
        "POST",
        "/api/v1/sync/device/key",
        b'{"public_key": "%s", "rotation_token": "%s"}'
        % (protocol.public_key_text(protocol.new_private_key()).encode(), token.encode()),
        key=new_key,
    )
    assert again.status_code == 403  # spent


def _sync_cli(box_config, *args):
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(box_config.data_dir), APPLIANCE_INBOX=str(box_config.inbox))
    return subprocess.run(
        [sys.executable, "-m", "appliance.sync", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def _hub_cli(hub_config, *args):
    env = dict(
        os.environ,
        HUB_DATA_DIR=str(hub_config.data_dir),
        DATABASE_URL=hub_config.database_url,
        S3_BUCKET=hub_config.s3_bucket,
        S3_ENDPOINT_URL=hub_config.s3_endpoint_url,
    )
    return subprocess.run(
        [sys.executable, "-m", "cloud_hub", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_box_rotates_its_key_with_a_token_from_the_hub_command_line(box, served_hub, hub_config, tenants):
    from appliance.sync import state

    with database.connection_context():
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
    assert _sync_cli(box, "enrol", "--hub", served_hub, "--token", token).returncode == 0
    key_file = box.sync_dir / "device-key.pem"
    old_key = key_file.read_bytes()
    assert _sync_cli(box, "rotate-key").returncode == 2  # argparse: --token is required
    refused = _sync_cli(box, "rotate-key", "--token", "dfr_guess")
    assert refused.returncode == 2 and "rotation token" in refused.stderr
    assert key_file.read_bytes() == old_key

    issued = _hub_cli(hub_config, "rotation-token", "--org", "Acme Health", state.get(state.DEVICE_ID))
    assert issued.returncode == 0, issued.stderr
    rotated = _sync_cli(box, "rotate-key", "--token", issued.stdout.strip())
    assert rotated.returncode == 0, rotated.stderr
    assert key_file.read_bytes() != old_key
    assert _sync_cli(box, "status").returncode == 0
    assert _sync_cli(box, "once").returncode == 0


def test_a_box_fetches_back_only_originals_its_own_clinic_uses(hub_app, tenants):
    north, south = enrol_box(hub_app, tenants["north"]), enrol_box(hub_app, tenants["south"], name="south box")
    souths, shared = b"%PDF-1.4 only South files this", b"%PDF-1.4 both clinics file this"
    file_document(south, "south letter", "200", original=souths)
    file_document(south, "shared letter", "201", original=shared)
    file_document(north, "shared letter", "101", original=shared)
    for box, original, status in ((north, souths, 404), (south, souths, 200), (north, shared, 200)):
        answer = box.request("GET", f"/api/v1/sync/blobs/{hashlib.sha256(original).hexdigest()}/content")
        assert answer.status_code == status
        if status == 200:
            assert answer.data == original
        else:
            assert original not in answer.data and answer.get_json()["error"] == "not_found"


@pytest.mark.parametrize("url", ["http://hub.example.org", "http://10.0.0.5:8090", "ftp://hub.example.org", "hub"])
def test_enrolment_refuses_a_hub_url_that_is_not_https(box, url):
    from appliance.sync import state

    refused = _sync_cli(box, "enrol", "--hub", url, "--token", "dfe_secret")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert ("https://" in refused.stderr) and not (box.sync_dir / "device-key.pem").exists()
    assert not state.enrolled(box)


def test_plain_http_is_taken_for_this_machine_or_when_asked_for(box):
    from appliance.sync.enrolment import InsecureHubUrl, check_hub_url

    for url in (
        "https://hub.example.org",
        "http://127.0.0.1:8090",
        "http://localhost:8090",
        "http://[::1]:8090",
        "http://0.0.0.0:8090",
    ):
        check_hub_url(url)
    check_hub_url("http://hub.example.org", insecure_http=True)
    with pytest.raises(InsecureHubUrl):
        check_hub_url("http://hub.example.org")
    # Past the check, the command goes to the network: an unreachable hub is a retryable error.
    unreachable = _sync_cli(box, "enrol", "--hub", "http://hub.invalid", "--token", "dfe_secret", "--insecure-http")
    assert unreachable.returncode == 3 and "https://" not in unreachable.stderr
