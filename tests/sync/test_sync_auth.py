"""Enrolment and signed requests: only a box holding its enrolled key gets in, once per nonce."""

import datetime as dt
import time

from cloud_hub.db import database
from cloud_hub.devices import issue_enrolment_token, issue_rotation_token, revoke
from cloud_hub.models import Device, EnrolmentToken
from sync import protocol
from tests.hub_fixtures import enrol_box


def test_a_token_enrols_one_box_into_its_clinic_once(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    with database.connection_context():
        device = Device.get(Device.uid == box.device_id)
        assert device.clinic_id == tenants["north"].id and device.organisation_id == tenants["acme"].id
        token, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
    client = hub_app.test_client()
    key = protocol.public_key_text(protocol.new_private_key())
    assert client.post("/api/v1/sync/enrol", json={"token": token, "public_key": key}).status_code == 201
    again = client.post("/api/v1/sync/enrol", json={"token": token, "public_key": key})
    assert again.status_code == 400 and "already been used" in again.get_json()["message"]
    assert client.post("/api/v1/sync/enrol", json={"token": "dfe_guess", "public_key": key}).status_code == 400


def test_an_expired_token_or_a_bad_key_is_refused(hub_app, tenants):
    with database.connection_context():
        token, row = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
        EnrolmentToken.update(expires_at=dt.datetime(2000, 1, 1)).where(EnrolmentToken.id == row.id).execute()
        fresh, _ = issue_enrolment_token(tenants["north"], created_by="test", hours=1)
    client = hub_app.test_client()
    key = protocol.public_key_text(protocol.new_private_key())
    expired = client.post("/api/v1/sync/enrol", json={"token": token, "public_key": key})
    assert expired.status_code == 400 and "expired" in expired.get_json()["message"]
    bad = client.post("/api/v1/sync/enrol", json={"token": fresh, "public_key": "not a key"})
    assert bad.status_code == 400 and "Ed25519" in bad.get_json()["message"]


def test_signed_requests_pass_and_every_answer_gives_the_hub_clock(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    answer = box.request("GET", "/api/v1/sync/device")
    assert answer.status_code == 200 and answer.get_json()["device_id"] == box.device_id
    assert abs(float(answer.headers[protocol.SERVER_TIME]) - time.time()) < 5


def test_forged_tampered_stale_replayed_and_unsigned_requests_are_refused(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    path = "/api/v1/sync/blobs/missing"
    body = b'{"sha256": []}'
    forged = box.request("POST", path, body, key=protocol.new_private_key())
    assert forged.status_code == 401 and forged.get_json()["error"] == "bad_signature"
    headers = protocol.sign_request(box.key, box.device_id, "POST", path, body)
    tampered = box.client.post(path, data=b'{"sha256": ["x"]}', headers=headers, content_type="application/json")
    assert tampered.status_code == 401 and "does not match" in tampered.get_json()["message"]
    resigned = dict(headers, **{protocol.DIGEST: protocol.body_digest(b'{"sha256": ["x"]}')})
    swapped = box.client.post(path, data=b'{"sha256": ["x"]}', headers=resigned, content_type="application/json")
    assert swapped.status_code == 401 and swapped.get_json()["error"] == "bad_signature"
    stale = box.request("POST", path, body, now=time.time() - 3600)
    assert stale.status_code == 401 and stale.get_json()["error"] == "clock_skew"
    assert abs(stale.get_json()["server_time"] - time.time()) < 5
    first = box.client.post(path, data=body, headers=headers, content_type="application/json")
    replay = box.client.post(path, data=body, headers=headers, content_type="application/json")
    assert first.status_code == 200 and replay.status_code == 401 and replay.get_json()["error"] == "replay"
    unsigned = box.client.post(path, data=body, content_type="application/json")
    assert unsigned.status_code == 401 and unsigned.get_json()["error"] == "unsigned"
    assert all(not r.get_json()["retry"] for r in (forged, tampered, stale, replay, unsigned))


def test_a_box_with_a_clock_hours_off_is_told_the_offset(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    skewed = box.request("GET", "/api/v1/sync/device", now=time.time() + 5 * 3600)
    offset = skewed.get_json()["server_time"] - (time.time() + 5 * 3600)
    corrected = box.request("GET", "/api/v1/sync/device", now=time.time() + 5 * 3600 + offset)
    assert skewed.status_code == 401 and corrected.status_code == 200


def test_a_revoked_box_is_refused_at_once_and_a_rotated_key_replaces_the_old(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    new_key = protocol.new_private_key()
    with database.connection_context():
        token, _ = issue_rotation_token(Device.get(Device.uid == box.device_id), created_by="test", hours=1)
    rotated = box.post_json(
        "/api/v1/sync/device/key", {"public_key": protocol.public_key_text(new_key), "rotation_token": token}
    )
    assert rotated.status_code == 200
    assert box.request("GET", "/api/v1/sync/device").status_code == 401
    assert box.request("GET", "/api/v1/sync/device", key=new_key).status_code == 200
    with database.connection_context():
        revoke(Device.get(Device.uid == box.device_id), actor="test")
    refused = box.request("GET", "/api/v1/sync/device", key=new_key)
    assert refused.status_code == 403 and refused.get_json()["error"] == "device_revoked"
