"""The sync agent end to end: a real box (real OCR) and the real hub under gunicorn on
PostgreSQL, Redis and the S3 server process."""

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests

from appliance.db import database as box_database
from appliance.documents import update_metadata
from appliance.ingest.intake import accept_file
from appliance.models import Document as BoxDocument
from appliance.models import Outbox
from appliance.sync import state as sync_state
from cloud_hub.db import database as hub_database
from cloud_hub.devices import issue_enrolment_token, issue_rotation_token
from cloud_hub.models import AuditEvent as HubAuditEvent
from cloud_hub.models import Device as HubDevice
from cloud_hub.models import Document as HubDocument
from tests.factories import record_lines, render_page, save_image
from tests.hub_fixtures import HUB_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.ocr


def sync_cli(box_config, *args, extra_env: dict | None = None):
    env = dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(box_config.data_dir),
        APPLIANCE_INBOX=str(box_config.inbox),
        **(extra_env or {}),
    )
    return subprocess.run(
        [sys.executable, "-m", "appliance.sync", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_filed_documents_reach_the_hub_once_with_identical_originals(
    box, runner, served_hub, hub_config, tenants, people, tmp_path
):
    scans = tmp_path / "scans"
    scans.mkdir()
    save_image(
        render_page(record_lines(mrn="31415926", name="LOVELACE, Ada", dob="10/12/1985"), noise=0.0003),
        scans / "lovelace.png",
        "PNG",
    )
    save_image(render_page(record_lines(mrn=None, title="REFERRAL LETTER"), noise=0.0003), scans / "unknown.png", "PNG")
    (scans / "torn.pdf").write_bytes(b"%PDF-1.4 torn off after the header")
    for path in sorted(scans.iterdir()):
        accept_file(path, box, source="test", remove=False)
    runner.run_until_idle()
    with hub_database.connection_context():
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)

    assert sync_cli(box, "once").returncode == 2
    enrolled = sync_cli(box, "enrol", "--hub", served_hub, "--token", token, "--name", "North desk")
    assert enrolled.returncode == 0, enrolled.stderr
    sync_state.put(sync_state.CLOCK_OFFSET, -5.0 * 3600)  # as if the box's clock ran five hours fast
    first = sync_cli(box, "once")
    assert first.returncode == 0, first.stderr + first.stdout
    assert abs(sync_state.get(sync_state.CLOCK_OFFSET, 0.0)) < 60
    again = sync_cli(box, "once")
    assert again.returncode == 0

    box_documents = {d.uid: d for d in BoxDocument.select()}
    with hub_database.connection_context():
        hub_documents = {d.uid: d for d in HubDocument.select()}
    assert set(hub_documents) == set(box_documents) and len(hub_documents) == 2
    s3 = boto3.client("s3", endpoint_url=hub_config.s3_endpoint_url, region_name=hub_config.s3_region)
    for uid, document in box_documents.items():
        sha = document.scan.sha256
        assert hub_documents[uid].blob_sha256 == sha and hub_documents[uid].status == document.status
        body = s3.get_object(Bucket=hub_config.s3_bucket, Key=f"{tenants['acme'].uid}/blobs/{sha[:2]}/{sha}")[
            "Body"
        ].read()
        assert hashlib.sha256(body).hexdigest() == sha
    filed = next(d for d in hub_documents.values() if d.status == "filed")
    with hub_database.connection_context():
        assert filed.patient.mrn == "31415926" and filed.clinic_id == tenants["north"].id
        box_events = {e.action for e in HubAuditEvent.select().where(HubAuditEvent.actor.contains("(box North desk)"))}
        device = HubDevice.get(HubDevice.name == "North desk")
        assert device.reported_backlog == 0 and device.reported_bytes_pending == 0  # what remained after the last batch
        assert device.reported_quarantine == 1  # the torn file stays on the box, only counted
    assert {"document.filed", "document.needs_review", "patient.create"} <= box_events

    signed = requests.Session()
    signed.post(f"{served_hub}/api/auth/token", json={"email": "admin@acme.test", "password": HUB_PASSWORD})
    found = signed.get(f"{served_hub}/api/v1/documents", params={"q": "haemoglobin lovelace"}).json()["results"]
    assert [r["patient"]["mrn"] for r in found] == ["31415926"]

    review = next(d for d in box_documents.values() if d.status == "needs_review")
    update_metadata(review, doc_type="referral", doc_date=None, patient=None, actor="test")
    status_before = json.loads(sync_cli(box, "status", "--json").stdout)
    assert status_before["backlog"] == 2 and status_before["configured"]  # the edit and its audit event
    assert sync_cli(box, "once").returncode == 0
    with hub_database.connection_context():
        assert HubDocument.get(HubDocument.uid == review.uid).doc_type == "referral"

    BoxDocument.update(doc_type="x" * 100).where(BoxDocument.uid == review.uid).execute()
    Outbox.create(kind="document", object_key=review.uid)
    set_aside = sync_cli(box, "once")
    assert set_aside.returncode == 0, set_aside.stdout
    status = json.loads(sync_cli(box, "status", "--json").stdout)
    assert status["backlog"] == 0 and status["last_success"] and status["last_error"] is None
    assert [item["key"] for item in status["set_aside"]] == [review.uid]
    assert "longer than 64" in status["set_aside"][0]["reason"]
    assert "set aside" in sync_cli(box, "status").stdout
    BoxDocument.update(doc_type="referral").where(BoxDocument.uid == review.uid).execute()
    assert sync_cli(box, "requeue", "--key", review.uid).returncode == 0
    assert sync_cli(box, "once").returncode == 0
    assert json.loads(sync_cli(box, "status", "--json").stdout)["set_aside"] == []

    from cloud_hub import create_app

    scraper = create_app(hub_config.with_overrides(metrics_token="scrape-secret")).test_client()
    assert scraper.get("/metrics").status_code == 401
    text = scraper.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).get_data(as_text=True)
    assert 'digifort_hub_device_backlog{clinic="North",device=' in text
    assert 'digifort_hub_device_oldest_unsynced_age_seconds{clinic="North",device=' in text
    assert 'digifort_hub_device_bytes_pending{clinic="North",device=' in text
    assert 'digifort_hub_device_error{clinic="North",device=' in text
    assert 'digifort_hub_documents{organisation="Acme Health"} 2.0' in text
    with hub_database.connection_context():
        device = HubDevice.get(HubDevice.name == "North desk")
        assert device.audit_breaks == 0 and device.audit_missing == 0  # the box's chain arrived whole
        from_the_box = HubAuditEvent.select().where(HubAuditEvent.source_key.is_null(False))
        assert from_the_box.count() > 0 and all(e.box_hash for e in from_the_box)
    box_database.close()


def test_outside_the_bulk_window_only_metadata_travels_until_sync_now_or_the_window(
    box, served_hub, hub_config, tenants
):
    import datetime as dt

    from appliance.patients import create_patient
    from cloud_hub.models import Patient as HubPatient
    from tests.factories import quick_documents

    with hub_database.connection_context():
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
    assert sync_cli(box, "enrol", "--hub", served_hub, "--token", token).returncode == 0
    quick_documents(box, 3)
    create_patient("555111", "Hopper", "Grace", dt.date(1906, 12, 9), actor="test")
    later = (dt.datetime.now() + dt.timedelta(hours=3)).strftime("%H:%M")
    until = (dt.datetime.now() + dt.timedelta(hours=4)).strftime("%H:%M")
    # Batches of 2: the held documents fill the first batches, and the patient behind them still goes.
    env = {"APPLIANCE_SYNC_BLOB_WINDOW": f"{later}-{until}", "APPLIANCE_SYNC_BATCH_ITEMS": "2"}
    held = sync_cli(box, "once", extra_env=env)
    assert held.returncode == 1 and "backlog 3" in held.stdout
    with hub_database.connection_context():
        assert HubPatient.select().where(HubPatient.mrn == "555111").exists()
        assert HubDocument.select().count() == 0
    assert sync_cli(box, "once", extra_env={"APPLIANCE_SYNC_BLOB_WINDOW": "7pm-7am"}).returncode == 2

    agent = subprocess.Popen(
        [sys.executable, "-m", "appliance.sync", "agent"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(
            os.environ,
            APPLIANCE_DATA_DIR=str(box.data_dir),
            APPLIANCE_INBOX=str(box.inbox),
            APPLIANCE_SYNC_INTERVAL_SECONDS="2",
            **env,
        ),
    )
    try:
        time.sleep(4)  # a few of its cycles, all inside the held window
        with hub_database.connection_context():
            assert HubDocument.select().count() == 0
        sync_state.put(sync_state.SYNC_NOW, True)  # what the dashboard's "Sync now" does
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with hub_database.connection_context():
                if HubDocument.select().count() == 3:
                    break
            time.sleep(0.5)
        with hub_database.connection_context():
            assert HubDocument.select().count() == 3
    finally:
        agent.terminate()
        agent.wait(timeout=30)
    old_key = (box.sync_dir / "device-key.pem").read_bytes()
    with hub_database.connection_context():
        device = HubDevice.get(HubDevice.uid == sync_state.get(sync_state.DEVICE_ID))
        rotation, _ = issue_rotation_token(device, created_by="test", hours=1)
    rotated = sync_cli(box, "rotate-key", "--token", rotation)
    assert rotated.returncode == 0, rotated.stderr
    assert (box.sync_dir / "device-key.pem").read_bytes() != old_key
    quick_documents(box, 1, first=3)
    assert sync_cli(box, "once").returncode == 0
    box_database.close()


def test_an_original_damaged_or_lost_on_the_box_is_set_aside_and_the_rest_still_goes(box, served_hub, tenants):
    from appliance.ingest.intake import store_path
    from tests.factories import quick_documents

    with hub_database.connection_context():
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
    assert sync_cli(box, "enrol", "--hub", served_hub, "--token", token).returncode == 0
    quick_documents(box, 6, size=20_000)  # small enough to travel in one pack
    documents = list(BoxDocument.select().order_by(BoxDocument.id))
    damaged, lost = documents[1], documents[4]
    store_path(box, damaged.scan.sha256).write_bytes(os.urandom(20_000))
    lost_bytes = store_path(box, lost.scan.sha256).read_bytes()
    store_path(box, lost.scan.sha256).unlink()

    first = sync_cli(box, "once")
    assert first.returncode == 1, first.stdout + first.stderr  # the lost one waits: the store may come back
    with hub_database.connection_context():
        at_hub = {d.uid for d in HubDocument.select()}
    assert at_hub == {d.uid for d in documents} - {damaged.uid, lost.uid}
    status = json.loads(sync_cli(box, "status", "--json").stdout)
    assert status["backlog"] == 1 and [item["key"] for item in status["set_aside"]] == [damaged.uid]
    assert sync_cli(box, "once").returncode == 1
    assert sync_cli(box, "once").returncode == 0  # the third cycle without it sets it aside
    status = json.loads(sync_cli(box, "status", "--json").stdout)
    assert status["backlog"] == 0 and status["last_error"] is None
    reasons = {item["key"]: item["reason"] for item in status["set_aside"]}
    assert set(reasons) == {damaged.uid, lost.uid}
    assert "does not match its SHA-256" in reasons[damaged.uid]
    assert "cannot be read on the box" in reasons[lost.uid]

    store_path(box, lost.scan.sha256).write_bytes(lost_bytes)  # found in a backup
    requeued = sync_cli(box, "requeue", "--key", lost.uid)
    assert requeued.returncode == 0 and "1 set-aside item(s) back" in requeued.stdout
    assert sync_cli(box, "once").returncode == 0
    with hub_database.connection_context():
        assert HubDocument.select().where(HubDocument.uid == lost.uid).exists()
        assert not HubDocument.select().where(HubDocument.uid == damaged.uid).exists()
    status = json.loads(sync_cli(box, "status", "--json").stdout)
    assert [item["key"] for item in status["set_aside"]] == [damaged.uid]
    box_database.close()


def test_an_item_too_large_for_the_hub_is_found_and_set_aside_and_the_rest_of_its_batch_goes(box, served_hub, tenants):
    from appliance.models import Page as BoxPage
    from tests.factories import quick_documents

    with hub_database.connection_context():
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
    assert sync_cli(box, "enrol", "--hub", served_hub, "--token", token).returncode == 0
    quick_documents(box, 4)
    documents = list(BoxDocument.select().order_by(BoxDocument.id))
    huge = documents[2]
    BoxPage.update(text="haemoglobin " * 800_000).where(BoxPage.document == huge.id).execute()  # ~9.6 MB

    once = sync_cli(box, "once")
    assert once.returncode == 0, once.stdout + once.stderr
    with hub_database.connection_context():
        assert {d.uid for d in HubDocument.select()} == {d.uid for d in documents} - {huge.uid}
        assert HubDevice.get(HubDevice.uid == sync_state.get(sync_state.DEVICE_ID)).seq_gaps == 0
    status = json.loads(sync_cli(box, "status", "--json").stdout)
    assert status["backlog"] == 0 and [item["key"] for item in status["set_aside"]] == [huge.uid]
    assert "413" in status["set_aside"][0]["reason"]
    quick_documents(box, 1, first=4)
    assert sync_cli(box, "once").returncode == 0
    with hub_database.connection_context():
        assert HubDocument.select().count() == 4
    box_database.close()


def test_a_change_from_head_office_the_box_cannot_apply_does_not_stop_its_own_documents(box, served_hub, tenants):
    from cloud_hub.changes import publish
    from tests.factories import quick_documents

    with hub_database.connection_context():
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
        publish(tenants["acme"], tenants["north"], "patient.correct", {"first_name": "Ada"})  # no MRN: unusable
    assert sync_cli(box, "enrol", "--hub", served_hub, "--token", token).returncode == 0
    quick_documents(box, 3)
    once = sync_cli(box, "once")
    assert once.returncode != 0 and "KeyError" in once.stderr
    with hub_database.connection_context():
        assert HubDocument.select().count() == 3
    status = json.loads(sync_cli(box, "status", "--json").stdout)
    assert status["backlog"] == 0 and "KeyError" in status["last_error"]
    assert sync_state.get(sync_state.CURSOR, 0) == 0  # the change is not skipped silently: the pull stops there
    box_database.close()


def test_originals_the_hub_will_not_take_are_set_aside_and_the_metadata_still_goes(box, served_hub, tenants):
    import datetime as dt

    from appliance.patients import create_patient
    from cloud_hub.models import Patient as HubPatient
    from tests.factories import quick_documents

    with hub_database.connection_context():
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
    assert sync_cli(box, "enrol", "--hub", served_hub, "--token", token).returncode == 0
    quick_documents(box, 2, size=9 * 1024 * 1024)  # one request each, above the hub's 8 MiB
    create_patient("271828", "Noether", "Emmy", dt.date(1882, 3, 23), actor="test")
    once = sync_cli(box, "once", extra_env={"APPLIANCE_SYNC_CHUNK_BYTES": str(16 * 1024 * 1024)})
    assert once.returncode == 0, once.stdout + once.stderr
    with hub_database.connection_context():
        assert HubPatient.select().where(HubPatient.mrn == "271828").exists()
        assert HubDocument.select().count() == 0
    status = json.loads(sync_cli(box, "status", "--json").stdout)
    assert status["backlog"] == 0 and len(status["set_aside"]) == 2
    assert all("413" in item["reason"] for item in status["set_aside"])
    assert sync_cli(box, "requeue").returncode == 0  # after setting the box's chunks back to what the hub takes
    assert sync_cli(box, "once").returncode == 0
    with hub_database.connection_context():
        assert HubDocument.select().count() == 2
    box_database.close()


def test_every_byte_of_the_originals_goes_through_the_bandwidth_cap(box, served_hub, tenants):
    from appliance.sync.client import client_for
    from appliance.sync.limits import Throttle
    from appliance.sync.push import Rules, push
    from tests.factories import quick_documents

    with hub_database.connection_context():
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
    assert sync_cli(box, "enrol", "--hub", served_hub, "--token", token).returncode == 0
    sizes = [3_000, 40_000, 40_000, 2_500_000]  # packed, whole and chunked
    for n, size in enumerate(sizes):
        quick_documents(box, 1, first=n, size=size)
    waits = []
    throttle = Throttle(100_000, clock=lambda: 0.0, sleep=waits.append)  # a clock that stands still
    result = push(client_for(box), box, rules=Rules(blobs_allowed=True, throttle=throttle))
    assert result.synced == 4 and result.bytes_sent == sum(sizes) == throttle.sent
    assert max(waits) == sum(sizes) / 100_000  # the cap asked for 61.83 s in all
    box_database.close()


def test_push_reads_a_folder_here_and_sends_it_once(tmp_path, served_hub, tenants):
    scans = tmp_path / "records box 14"
    (scans / "folder a").mkdir(parents=True)
    save_image(
        render_page(record_lines(mrn="16180339", name="NOETHER, Emmy", dob="23/03/1982"), noise=0.0003),
        scans / "folder a" / "noether.png",
        "PNG",
    )
    (scans / "notes.pdf").write_text("not a scan")
    with hub_database.connection_context():
        token, _ = issue_enrolment_token(tenants["south"], created_by="test", hours=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE_")}
    command = [
        sys.executable,
        "-m",
        "appliance.sync",
        "push",
        str(scans),
        "--hub",
        served_hub,
        "--data-dir",
        str(tmp_path / "push-state"),
        "--name",
        "Archive team laptop",
    ]
    first = subprocess.run([*command, "--token", token], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "'quarantined': 1" in first.stdout and "waiting to send: 0" in first.stdout
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "taken in: {'duplicate': 2}" in again.stdout
    with hub_database.connection_context():
        documents = list(HubDocument.select())
        assert len(documents) == 1 and documents[0].clinic_id == tenants["south"].id
        assert documents[0].patient.mrn == "16180339"


def test_confirmed_originals_leave_the_box_after_retention_and_come_back_on_demand(box, users, served_hub, tenants):
    import datetime as dt

    from appliance.ingest.intake import store_path
    from appliance.models import Scan
    from appliance.web import create_app
    from tests.conftest import sign_in
    from tests.factories import quick_documents

    with hub_database.connection_context():
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
    assert sync_cli(box, "enrol", "--hub", served_hub, "--token", token).returncode == 0
    quick_documents(box, 2)
    assert sync_cli(box, "once").returncode == 0
    quick_documents(box, 1, first=2)
    Scan.update(received_at=dt.datetime(2020, 1, 1)).execute()
    closed = f"{(dt.datetime.now() + dt.timedelta(hours=3)):%H:%M}-{(dt.datetime.now() + dt.timedelta(hours=4)):%H:%M}"
    kept = sync_cli(box, "once", extra_env={"APPLIANCE_RETENTION_DAYS": "30", "APPLIANCE_SYNC_BLOB_WINDOW": closed})
    scans = list(Scan.select().order_by(Scan.id))
    assert kept.returncode == 1 and [s.evicted_at is not None for s in scans] == [True, True, False]
    assert not store_path(box, scans[0].sha256).exists() and store_path(box, scans[2].sha256).exists()

    client = create_app(box).test_client()
    sign_in(client, "bob")
    document = BoxDocument.get(BoxDocument.scan == scans[0].id)
    fetched = client.get(f"/documents/{document.id}/original")
    assert fetched.status_code == 200 and hashlib.sha256(fetched.data).hexdigest() == scans[0].sha256
    assert store_path(box, scans[0].sha256).exists() and Scan.get_by_id(scans[0].id).evicted_at is None
    other = BoxDocument.get(BoxDocument.scan == scans[1].id)
    sync_state.put(sync_state.HUB_URL, "http://127.0.0.1:9")
    offline = client.get(f"/documents/{other.id}/original")
    assert offline.status_code == 503 and "kept at head office" in offline.get_data(as_text=True)
    box_database.close()


def test_head_office_changes_reach_the_box_and_a_local_edit_is_never_overwritten(
    box, users, served_hub, hub_config, tenants, people, tmp_path
):
    import datetime as dt

    from appliance.models import Patient as BoxPatient
    from appliance.models import SyncConflict
    from appliance.patients import create_patient
    from appliance.users import authenticate
    from appliance.web import create_app
    from cloud_hub.box_admin import correct_patient
    from cloud_hub.models import Patient as HubPatient
    from tests.conftest import sign_in, token_of

    with hub_database.connection_context():
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
    assert sync_cli(box, "enrol", "--hub", served_hub, "--token", token).returncode == 0
    create_patient("100200", "Smyth", "Jon", dt.date(1970, 1, 1), actor="test")
    assert sync_cli(box, "once").returncode == 0

    admin = requests.Session()
    admin.post(f"{served_hub}/api/auth/token", json={"email": "admin@acme.test", "password": HUB_PASSWORD})
    csrf = admin.get(f"{served_hub}/api/auth/me").json()["csrf_token"]
    with hub_database.connection_context():
        hub_patient = HubPatient.get(HubPatient.mrn == "100200")
    corrected = admin.patch(
        f"{served_hub}/api/v1/patients/{hub_patient.id}",
        headers={"X-CSRFToken": csrf},
        json={"last_name": "Smith", "first_name": "John"},
    )
    assert corrected.status_code == 200

    hub_env = dict(os.environ, HUB_DATA_DIR=str(tmp_path / "cli-hub"), DATABASE_URL=hub_config.database_url)
    hub_cli = [sys.executable, "-m", "cloud_hub"]
    allowed = subprocess.run(
        [
            *hub_cli,
            "box-user",
            "--org",
            "Acme Health",
            "--clinic",
            "North",
            "--username",
            "Nurse.Jane",
            "--password",
            "jane-password-1",
        ],
        cwd=ROOT,
        env=hub_env,
        capture_output=True,
        text=True,
    )
    assert allowed.returncode == 0, allowed.stderr
    settings = subprocess.run(
        [
            *hub_cli,
            "box-settings",
            "--org",
            "Acme Health",
            "--clinic",
            "North",
            "--retention-days",
            "90",
            "--bandwidth",
            "500000",
        ],
        cwd=ROOT,
        env=hub_env,
        capture_output=True,
        text=True,
    )
    assert settings.returncode == 0, settings.stderr

    create_patient("300400", "Local", "Edit", dt.date(1980, 2, 2), actor="test")
    with hub_database.connection_context():
        elsewhere = HubPatient.create(
            organisation=tenants["acme"],
            clinic=tenants["north"],
            mrn="300400",
            last_name="Headoffice",
            first_name="Version",
            dob=dt.date(1980, 2, 2),
        )
        correct_patient(elsewhere, last_name="Headoffice", first_name="Version", dob=dt.date(1980, 2, 2), actor="test")
    assert sync_cli(box, "once").returncode == 0

    assert BoxPatient.get(BoxPatient.mrn == "100200").last_name == "Smith"
    assert authenticate("nurse.jane", "jane-password-1") is not None
    assert sync_state.get(sync_state.setting("retention_days", int)) == 90
    assert sync_state.get(sync_state.setting("sync_bandwidth_bytes", int)) == 500000
    assert BoxPatient.get(BoxPatient.mrn == "300400").last_name == "Local"
    conflict = SyncConflict.get(SyncConflict.object_key == "300400")
    assert conflict.hub_version["last_name"] == "Headoffice" and conflict.resolved_at is None

    client = create_app(box).test_client()
    sign_in(client, "alice")
    assert "Take head office" in client.get("/").get_data(as_text=True)
    client.post(f"/sync/conflicts/{conflict.id}", data={"csrf_token": token_of(client), "keep": "hub"})
    assert BoxPatient.get(BoxPatient.mrn == "300400").last_name == "Headoffice"

    disabled = subprocess.run(
        [*hub_cli, "box-user", "--org", "Acme Health", "--clinic", "North", "--username", "nurse.jane", "--disable"],
        cwd=ROOT,
        env=hub_env,
        capture_output=True,
        text=True,
    )
    assert disabled.returncode == 0, disabled.stderr
    assert sync_cli(box, "once").returncode == 0
    assert authenticate("nurse.jane", "jane-password-1") is None
    box_database.close()
