"""The hub's command line, and the sync API served by gunicorn over real HTTP."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import requests

from core.waiting import wait_for_http
from sync import protocol
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def hub_cli(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "cloud_hub", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_embedded_default_needs_no_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "S3_BUCKET")}
    env["HUB_DATA_DIR"] = str(tmp_path / "hub")
    assert hub_cli(env, "init").returncode == 0 and (tmp_path / "hub" / "hub.db").exists()
    created = hub_cli(env, "create-org", "Acme Health", "--clinic", "North")
    assert created.returncode == 0 and "North" in created.stdout
    user = hub_cli(env, "create-user", "--org", "Acme Health", "--email", "Ann@Acme.test", "--role", "viewer")
    assert user.returncode == 0 and "with password: " in user.stdout
    token = hub_cli(env, "enrolment-token", "--org", "Acme Health", "--clinic", "North")
    assert token.returncode == 0 and token.stdout.strip().startswith("dfe_")
    duplicate = hub_cli(env, "create-org", "Acme Health")
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr and "Traceback" not in duplicate.stderr
    wrong = hub_cli(env, "enrolment-token", "--org", "Acme Health", "--clinic", "Nowhere")
    assert wrong.returncode == 2 and "no clinic named 'Nowhere'" in wrong.stderr
    assert "no devices enrolled yet" in hub_cli(env, "devices", "--org", "Acme Health").stdout
    plan = hub_cli(
        env,
        "price-plan",
        "--org",
        "Acme Health",
        "--currency",
        "eur",
        "--per-page",
        "0.03",
        "--per-gb-month",
        "0.5",
        "--per-gb-transfer",
        "0.1",
    )
    assert plan.returncode == 0 and "EUR 0.03 a page" in plan.stdout
    bad = hub_cli(
        env,
        "price-plan",
        "--org",
        "Acme Health",
        "--per-page",
        "cheap",
        "--per-gb-month",
        "1",
        "--per-gb-transfer",
        "1",
    )
    assert bad.returncode == 2 and "numbers like 0.02" in bad.stderr
    usage = hub_cli(env, "usage", "--month", "2026-10")
    assert usage.returncode == 0 and "Acme Health  2026-10: 0 pages" in usage.stdout
    invoice = hub_cli(env, "invoice", "--org", "Acme Health", "--month", "2026-10")
    assert invoice.returncode == 0 and "done in-process" in invoice.stdout
    assert hub_cli(env, "usage", "--month", "October").returncode == 2


def test_it_lists_renames_and_revokes_boxes_from_the_command_line(tmp_path, postgres_url, hub_app, tenants):
    from tests.hub_fixtures import enrol_box

    box = enrol_box(hub_app, tenants["north"])
    env = dict(os.environ, HUB_DATA_DIR=str(tmp_path / "cli"), DATABASE_URL=postgres_url)
    assert hub_cli(env, "rename-device", "--org", "Acme Health", box.device_id, "Reception").returncode == 0
    listed = hub_cli(env, "devices", "--org", "Acme Health").stdout
    assert box.device_id in listed and "Reception" in listed and "active" in listed
    other = hub_cli(env, "revoke-device", "--org", "Other Care", box.device_id)
    assert other.returncode == 2 and "no device" in other.stderr
    assert box.request("GET", "/api/v1/sync/device").status_code == 200
    assert hub_cli(env, "revoke-device", "--org", "Acme Health", box.device_id).returncode == 0
    assert box.request("GET", "/api/v1/sync/device").status_code == 403
    assert "revoked" in hub_cli(env, "devices", "--org", "Acme Health").stdout


def test_a_box_enrols_uploads_and_commits_through_gunicorn(tmp_path, postgres_url, s3_bucket, hub_app):
    endpoint, bucket = s3_bucket
    env = dict(
        os.environ,
        HUB_DATA_DIR=str(tmp_path / "served"),
        DATABASE_URL=postgres_url,
        S3_BUCKET=bucket,
        S3_ENDPOINT_URL=endpoint,
        S3_REGION="us-east-1",
        HUB_WEB_WORKERS="2",
    )
    assert hub_cli(env, "create-org", "Served Org", "--clinic", "Main").returncode == 0
    token = hub_cli(env, "enrolment-token", "--org", "Served Org", "--clinic", "Main").stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cloud_hub", "serve", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/healthz")
        key = protocol.new_private_key()
        enrolled = requests.post(
            f"{base}/api/v1/sync/enrol", timeout=10, json={"token": token, "public_key": protocol.public_key_text(key)}
        )
        assert enrolled.status_code == 201
        device = enrolled.json()["device_id"]

        def signed(method, path, body=b"", content_type="application/json"):
            headers = protocol.sign_request(key, device, method, path, body)
            headers["Content-Type"] = content_type
            return requests.request(method, base + path, data=body, headers=headers, timeout=10)

        data = b"%PDF-1.4 served scan" * 1000
        sha = hashlib.sha256(data).hexdigest()
        stored = signed("PUT", f"/api/v1/sync/blobs/{sha}?size={len(data)}&offset=0", data, "application/octet-stream")
        assert stored.status_code == 201 and stored.json()["complete"]
        batch = {
            "batch_id": "served-1",
            "seq": 1,
            "items": [
                {
                    "id": "i1",
                    "type": "document",
                    "document": {
                        "uid": "served-doc",
                        "status": "needs_review",
                        "doc_type": "other",
                        "original_name": "s.pdf",
                        "blob_sha256": sha,
                        "patient": None,
                        "pages": [{"number": 1, "text": "served"}],
                    },
                }
            ],
        }
        body = json.dumps(batch).encode()
        answers = [signed("POST", "/api/v1/sync/batches", body) for _ in range(2)]
        assert [a.json()["results"][0]["status"] for a in answers] == ["applied", "applied"]
        assert [a.json()["replayed"] for a in answers] == [False, True]
        assert protocol.SERVER_TIME in answers[0].headers
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_backup_upload_stores_a_dump_encrypted_in_the_bucket(tmp_path, postgres_url, s3_bucket):
    import boto3

    endpoint, bucket = s3_bucket
    env = dict(
        os.environ,
        HUB_DATA_DIR=str(tmp_path / "hub"),
        DATABASE_URL=postgres_url,
        S3_BUCKET=bucket,
        S3_ENDPOINT_URL=endpoint,
        S3_REGION="us-east-1",
    )
    dump = subprocess.run(["pg_dump", "--format=custom", postgres_url], capture_output=True, check=True).stdout
    stored = subprocess.run(
        [sys.executable, "-m", "cloud_hub", "backup-upload", "--key", "backups/test.dump"],
        cwd=ROOT,
        env=env,
        input=dump,
        capture_output=True,
        timeout=120,
    )
    assert stored.returncode == 0, stored.stderr
    assert f"in S3 bucket {bucket}, encrypted at rest" in stored.stdout.decode()
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    copy = s3.get_object(Bucket=bucket, Key="backups/test.dump")
    assert copy["Body"].read() == dump and copy["ServerSideEncryption"] == "AES256"


def test_backup_upload_to_the_local_volume_says_where_and_that_it_is_not_encrypted(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "S3_BUCKET", "S3_ENDPOINT_URL")
    }
    env["HUB_DATA_DIR"] = str(tmp_path / "hub")
    dump = b"PGDMP pretend dump with patient rows"
    stored = subprocess.run(
        [sys.executable, "-m", "cloud_hub", "backup-upload", "--key", "backups/test.dump"],
        cwd=ROOT,
        env=env,
        input=dump,
        capture_output=True,
        timeout=120,
    )
    assert stored.returncode == 0, stored.stderr
    where = tmp_path / "hub" / "blobs" / "backups" / "test.dump"
    message = stored.stdout.decode()
    assert str(where) in message and "NOT encrypted" in message and ", encrypted" not in message
    assert where.read_bytes() == dump  # plain bytes: exactly what the message says
