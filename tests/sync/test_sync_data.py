"""Blobs, batches and the change feed, against PostgreSQL, Redis and the S3 server process."""

import hashlib
import json
import os
import threading
import uuid

import boto3

from cloud_hub.changes import publish
from cloud_hub.db import database
from cloud_hub.models import Blob, Device, Document, Page, Patient
from cloud_hub.storage import blob_key
from tests.hub_fixtures import enrol_box

CHUNK = 64 * 1024


def upload(box, data: bytes, chunk: int = CHUNK, start: int = 0):
    """Send `data` in chunks from `start`; the last answer."""
    sha = hashlib.sha256(data).hexdigest()
    answer = None
    for offset in range(start, len(data), chunk):
        answer = box.request(
            "PUT",
            f"/api/v1/sync/blobs/{sha}?size={len(data)}&offset={offset}",
            data[offset : offset + chunk],
            content_type="application/octet-stream",
        )
        assert answer.status_code in (200, 201), answer.get_json()
    return sha, answer


def s3_client(hub_config):
    return boto3.client("s3", endpoint_url=hub_config.s3_endpoint_url, region_name=hub_config.s3_region)


def document_item(sha, uid=None, mrn="00123456", text="Haemoglobin 13.5", **changes):
    document = {
        "uid": uid or uuid.uuid4().hex,
        "status": "filed",
        "doc_type": "lab_report",
        "doc_date": "2024-04-02",
        "original_name": "scan.pdf",
        "blob_sha256": sha,
        "patient": {"mrn": mrn, "last_name": "Smith", "first_name": "John", "dob": "1975-03-14"},
        "pages": [{"number": 1, "text": text}],
        **changes,
    }
    return {"id": uuid.uuid4().hex, "type": "document", "document": document}


def batch(items, seq=1, batch_id=None):
    return {"batch_id": batch_id or uuid.uuid4().hex, "seq": seq, "backlog": 7, "items": items}


def test_missing_blobs_then_a_resumable_upload_lands_encrypted_under_the_organisation(hub_app, hub_config, tenants):
    box = enrol_box(hub_app, tenants["north"])
    data = os.urandom(5 * CHUNK + 123)
    sha = hashlib.sha256(data).hexdigest()
    assert box.post_json("/api/v1/sync/blobs/missing", {"sha256": [sha]}).get_json()["missing"] == [sha]
    first = box.request(
        "PUT",
        f"/api/v1/sync/blobs/{sha}?size={len(data)}&offset=0",
        data[:CHUNK],
        content_type="application/octet-stream",
    )
    assert first.get_json() == {"sha256": sha, "size": len(data), "received": CHUNK, "complete": False}
    skipped = box.request(
        "PUT",
        f"/api/v1/sync/blobs/{sha}?size={len(data)}&offset={3 * CHUNK}",
        data[3 * CHUNK : 4 * CHUNK],
        content_type="application/octet-stream",
    )
    assert skipped.status_code == 409 and skipped.get_json()["received"] == CHUNK and skipped.get_json()["retry"]
    resumed_from = box.request("GET", f"/api/v1/sync/blobs/{sha}").get_json()["received"]
    _, last = upload(box, data, start=resumed_from)
    assert last.status_code == 201 and last.get_json()["complete"]
    assert box.post_json("/api/v1/sync/blobs/missing", {"sha256": [sha]}).get_json()["missing"] == []
    key = f"{tenants['acme'].uid}/blobs/{sha[:2]}/{sha}"
    stored = s3_client(hub_config).get_object(Bucket=hub_config.s3_bucket, Key=key)
    assert hashlib.sha256(stored["Body"].read()).hexdigest() == sha
    assert stored["ServerSideEncryption"] == "AES256"
    with database.connection_context():
        assert Device.get(Device.uid == box.device_id).bytes_in >= len(data)


def test_a_blob_that_does_not_hash_to_its_name_is_refused_and_not_stored(hub_app, hub_config, tenants):
    box = enrol_box(hub_app, tenants["north"])
    data = os.urandom(3000)
    claimed = hashlib.sha256(b"something else").hexdigest()
    answer = box.request(
        "PUT", f"/api/v1/sync/blobs/{claimed}?size={len(data)}&offset=0", data, content_type="application/octet-stream"
    )
    assert answer.status_code == 422 and answer.get_json()["error"] == "hash_mismatch"
    listed = s3_client(hub_config).list_objects_v2(Bucket=hub_config.s3_bucket, Prefix=tenants["acme"].uid)
    assert listed.get("KeyCount", 0) == 0
    with database.connection_context():
        assert not Blob.select().exists()
    assert box.request("GET", f"/api/v1/sync/blobs/{claimed}").get_json()["received"] == 0


def send_pack(box, blobs: list[bytes], listing: str | None = None):
    listing = listing or ",".join(f"{hashlib.sha256(b).hexdigest()}:{len(b)}" for b in blobs)
    return box.request(
        "POST", f"/api/v1/sync/blobs/pack?blobs={listing}", b"".join(blobs), content_type="application/octet-stream"
    )


def test_a_pack_of_small_blobs_stores_each_under_its_own_name_once(hub_app, hub_config, tenants):
    box = enrol_box(hub_app, tenants["north"])
    blobs = [os.urandom(size) for size in (1, 5000, 20_000)]
    shas = [hashlib.sha256(b).hexdigest() for b in blobs]
    answer = send_pack(box, blobs)
    assert answer.status_code == 201 and answer.get_json()["stored"] == shas
    assert box.post_json("/api/v1/sync/blobs/missing", {"sha256": shas}).get_json()["missing"] == []
    s3 = s3_client(hub_config)
    for sha, data in zip(shas, blobs, strict=True):
        stored = s3.get_object(Bucket=hub_config.s3_bucket, Key=blob_key(tenants["acme"].uid, sha))
        assert stored["Body"].read() == data and stored["ServerSideEncryption"] == "AES256"
    assert send_pack(box, blobs).status_code == 201  # an answer lost on the way: sent again, recorded once
    with database.connection_context():
        assert sorted(b.sha256 for b in Blob.select()) == sorted(shas)
        assert {b.size for b in Blob.select()} == {1, 5000, 20_000}


def test_a_pack_with_one_blob_not_matching_its_name_stores_none_of_them(hub_app, hub_config, tenants):
    box = enrol_box(hub_app, tenants["north"])
    good, bad = os.urandom(3000), os.urandom(3000)
    claimed = hashlib.sha256(b"another scan").hexdigest()
    listing = f"{hashlib.sha256(good).hexdigest()}:3000,{claimed}:3000"
    answer = send_pack(box, [good, bad], listing)
    assert answer.status_code == 422 and answer.get_json()["error"] == "hash_mismatch"
    assert claimed in answer.get_json()["message"] and not answer.get_json()["retry"]
    listed = s3_client(hub_config).list_objects_v2(Bucket=hub_config.s3_bucket, Prefix=tenants["acme"].uid)
    assert listed.get("KeyCount", 0) == 0
    with database.connection_context():
        assert not Blob.select().exists()


def test_malformed_packs_are_refused_with_the_reason(hub_app, hub_config, tenants):
    box = enrol_box(hub_app, tenants["north"])
    one, two = os.urandom(100), os.urandom(200)
    sha_one, sha_two = hashlib.sha256(one).hexdigest(), hashlib.sha256(two).hexdigest()
    cases = {
        f"{sha_one}:100,{sha_two}:150": [one, two],  # sizes do not add up to the body
        f"{sha_one}:100,{sha_one}:100": [one, one],  # the same blob twice
        f"{sha_one}:100,nothex:200": [one, two],
        f"{sha_one}": [one],
        ",".join(f"{hashlib.sha256(bytes([n])).hexdigest()}:1" for n in range(33)): [bytes([n]) for n in range(33)],
    }
    for listing, blobs in cases.items():
        answer = send_pack(box, blobs, listing)
        assert answer.status_code == 400, listing
        assert answer.get_json()["error"] in ("bad_pack", "bad_sha256"), answer.get_json()
    big = [os.urandom(hub_config.chunk_bytes // 2 + 1) for _ in range(2)]
    too_large = send_pack(box, big)
    assert too_large.status_code == 413 and too_large.get_json()["error"] == "pack_too_large"
    with database.connection_context():
        assert not Blob.select().exists()


def test_blobs_are_per_organisation(hub_app, tenants):
    acme_box = enrol_box(hub_app, tenants["north"])
    other_box = enrol_box(hub_app, tenants["elsewhere"])
    sha, _ = upload(acme_box, b"acme's scan")
    assert other_box.post_json("/api/v1/sync/blobs/missing", {"sha256": [sha]}).get_json()["missing"] == [sha]
    assert other_box.request("GET", f"/api/v1/sync/blobs/{sha}").get_json()["complete"] is False


def test_a_batch_commits_once_and_a_repeat_gets_the_same_answer(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    sha, _ = upload(box, b"%PDF-1.4 a scan")
    payload = batch([document_item(sha)])
    first = box.post_json("/api/v1/sync/batches", payload)
    again = box.post_json("/api/v1/sync/batches", payload)
    assert first.status_code == again.status_code == 200
    assert first.get_json()["results"][0]["status"] == "applied"
    assert again.get_json()["replayed"] and again.get_json()["results"] == first.get_json()["results"]
    with database.connection_context():
        assert Document.select().count() == 1 and Patient.select().count() == 1 and Page.select().count() == 1
        document = Document.get()
        assert document.clinic_id == tenants["north"].id and document.blob_sha256 == sha
        device = Device.get(Device.uid == box.device_id)
        assert device.last_seq == 1 and device.reported_backlog == 7
    changed = dict(payload, items=[document_item(sha)])
    reused = box.post_json("/api/v1/sync/batches", changed)
    assert reused.status_code == 409 and reused.get_json()["error"] == "batch_id_reused"


def test_one_bad_item_does_not_sink_the_batch_and_a_missing_blob_asks_for_a_retry(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    sha, _ = upload(box, b"a good scan")
    good, bad = document_item(sha), document_item(sha, doc_date="14/03/2024")
    waiting = document_item(hashlib.sha256(b"not uploaded yet").hexdigest())
    results = box.post_json("/api/v1/sync/batches", batch([good, bad, waiting])).get_json()["results"]
    assert [r["status"] for r in results] == ["applied", "refused", "retry"]
    assert "doc_date" in results[1]["error"] and "not been uploaded" in results[2]["error"]
    with database.connection_context():
        assert Document.select().count() == 1


def test_an_edit_updates_the_document_and_an_identical_resend_changes_nothing(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    sha, _ = upload(box, b"scan")
    item = document_item(sha, uid="doc-1")
    box.post_json("/api/v1/sync/batches", batch([item], seq=1))
    same = box.post_json("/api/v1/sync/batches", batch([document_item(sha, uid="doc-1")], seq=2)).get_json()
    edited = document_item(sha, uid="doc-1", doc_type="referral", text="Dear colleague")
    applied = box.post_json("/api/v1/sync/batches", batch([edited], seq=3)).get_json()
    assert same["results"][0]["status"] == "unchanged" and applied["results"][0]["status"] == "applied"
    with database.connection_context():
        document = Document.get(Document.uid == "doc-1")
        assert document.doc_type == "referral" and [p.text for p in document.pages] == ["Dear colleague"]


def test_concurrent_duplicates_of_a_batch_apply_it_exactly_once(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    sha, _ = upload(box, b"scan sent by a box that retried too eagerly")
    payload = json.dumps(batch([document_item(sha), document_item(sha)])).encode()
    answers, start = [], threading.Barrier(8)

    def send():
        client = hub_app.test_client()
        from sync import protocol

        headers = protocol.sign_request(box.key, box.device_id, "POST", "/api/v1/sync/batches", payload)
        start.wait()
        answers.append(
            client.post("/api/v1/sync/batches", data=payload, headers=headers, content_type="application/json")
        )

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * 8
    assert sum(not a.get_json()["replayed"] for a in answers) == 1
    assert len({json.dumps(a.get_json()["results"]) for a in answers}) == 1
    with database.connection_context():
        assert Document.select().count() == 2


def test_a_gap_in_the_batch_sequence_is_recorded(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    sha, _ = upload(box, b"scan")
    box.post_json("/api/v1/sync/batches", batch([document_item(sha)], seq=1))
    gapped = box.post_json("/api/v1/sync/batches", batch([document_item(sha)], seq=4)).get_json()
    assert gapped["gap"] == {"expected_seq": 2, "missing": 2}
    with database.connection_context():
        device = Device.get(Device.uid == box.device_id)
        assert device.seq_gaps == 2 and device.last_seq == 4


def test_malformed_and_oversized_batches_are_refused_whole(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    assert box.request("POST", "/api/v1/sync/batches", b"{not json").status_code == 400
    assert box.post_json("/api/v1/sync/batches", {"batch_id": "b", "seq": 1, "items": []}).status_code == 400
    too_many = box.post_json("/api/v1/sync/batches", batch([{"id": str(n)} for n in range(501)]))
    assert too_many.status_code == 413


def test_a_document_of_another_clinic_cannot_be_overwritten(hub_app, tenants):
    north, south = enrol_box(hub_app, tenants["north"]), enrol_box(hub_app, tenants["south"])
    sha, _ = upload(north, b"north's scan")
    upload(south, b"north's scan")
    north.post_json("/api/v1/sync/batches", batch([document_item(sha, uid="shared-uid")]))
    taken = south.post_json("/api/v1/sync/batches", batch([document_item(sha, uid="shared-uid", text="x")]))
    assert taken.get_json()["results"][0]["status"] == "refused"
    with database.connection_context():
        assert Document.get(Document.uid == "shared-uid").clinic_id == tenants["north"].id


def test_the_change_feed_is_ordered_paged_and_per_clinic(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    with database.connection_context():
        publish(tenants["acme"], tenants["north"], "patient.correct", {"mrn": "1"})
        publish(tenants["acme"], tenants["south"], "patient.correct", {"mrn": "2"})
        publish(tenants["acme"], None, "settings", {"sync_window": "19:00-07:00"})
        publish(tenants["other"], None, "settings", {"bandwidth": 1})
        publish(tenants["acme"], tenants["north"], "user.allow", {"user": "nurse"})
    first = box.request("GET", "/api/v1/sync/changes?after=0&limit=2").get_json()
    assert [c["kind"] for c in first["changes"]] == ["patient.correct", "settings"] and first["more"]
    rest = box.request("GET", f"/api/v1/sync/changes?after={first['cursor']}&limit=2").get_json()
    assert [c["payload"] for c in rest["changes"]] == [{"user": "nurse"}] and not rest["more"]
    cursors = [c["cursor"] for c in first["changes"] + rest["changes"]]
    assert cursors == sorted(cursors) and len(set(cursors)) == 3


def test_old_blobs_move_to_the_colder_storage_class_and_stay_downloadable(hub_app, hub_config, tenants):
    import datetime as dt

    from cloud_hub.archival import archive_old_blobs
    from cloud_hub.storage import storage_for

    box = enrol_box(hub_app, tenants["north"])
    old, _ = upload(box, b"scanned two years ago")
    new, _ = upload(box, b"scanned yesterday")
    with database.connection_context():
        Blob.update(created_at=dt.datetime(2024, 1, 1)).where(Blob.sha256 == old).execute()
        storage = storage_for(hub_config)
        assert archive_old_blobs(storage, 365, "STANDARD_IA") == 1
        assert archive_old_blobs(storage, 365, "STANDARD_IA") == 0
        key = Blob.get(Blob.sha256 == old).storage_key
    head = s3_client(hub_config).head_object(Bucket=hub_config.s3_bucket, Key=key)
    assert head["StorageClass"] == "STANDARD_IA" and head["ServerSideEncryption"] == "AES256"
    assert (
        s3_client(hub_config).get_object(Bucket=hub_config.s3_bucket, Key=key)["Body"].read()
        == b"scanned two years ago"
    )
    fresh = s3_client(hub_config).head_object(Bucket=hub_config.s3_bucket, Key=blob_key(tenants["acme"].uid, new))
    assert fresh.get("StorageClass", "STANDARD") == "STANDARD"


def test_large_blobs_are_stored_in_parts(hub_config, tmp_path):
    from cloud_hub.storage import storage_for

    storage = storage_for(hub_config)
    storage.ensure_bucket()
    big = tmp_path / "big.tif"
    big.write_bytes(os.urandom(17 * 1024 * 1024))
    storage.put_file("test/big", big)
    head = storage.head("test/big")
    assert head["ETag"].strip('"').endswith("-2") and head["ContentLength"] == 17 * 1024 * 1024
