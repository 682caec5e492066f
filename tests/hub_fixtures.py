"""Hub fixtures: a fresh PostgreSQL database per session (tables emptied per test), Redis, and
an S3 bucket on the S3 server process, all from DATABASE_URL, REDIS_URL and S3_ENDPOINT_URL
(`make test` starts throwaway servers when they are not set)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest

from cloud_hub.config import HubConfig
from cloud_hub.db import database
from core.waiting import wait_for_http
from sync import protocol
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]

SERVERS_HINT = "run the hub tests through `make test` (it starts the servers) or set {}"


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(SERVERS_HINT.format(name))
    return value


@pytest.fixture(scope="session")
def postgres_url():
    """A database of this test session's own on the PostgreSQL server, dropped at the end."""
    server = _required("DATABASE_URL")
    name = f"digifort_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield urlunparse(urlparse(server)._replace(path=f"/{name}"))
    if database.obj is not None:
        database.close()
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def s3_bucket():
    """A bucket of this session's own on the S3 server process."""
    endpoint = _required("S3_ENDPOINT_URL")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return endpoint, f"digifort-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def hub_config(tmp_path, postgres_url, s3_bucket) -> HubConfig:
    """The hub on the real services: PostgreSQL, Redis, S3."""
    endpoint, bucket = s3_bucket
    return HubConfig(
        data_dir=tmp_path / "hub",
        database_url=postgres_url,
        redis_url=_required("REDIS_URL"),
        s3_bucket=bucket,
        s3_endpoint_url=endpoint,
        s3_region="us-east-1",
        chunk_bytes=64 * 1024,
        secure_cookies=False,
    )


@pytest.fixture
def hub_app(hub_config):
    """The hub's app with every table emptied first."""
    from cloud_hub import create_app
    from cloud_hub.models import MODELS

    application = create_app(hub_config)
    with database.connection_context():
        tables = ", ".join(f'"{model._meta.table_name}"' for model in MODELS)
        database.execute_sql("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
        database.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        database.execute_sql("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")
    application.config["TESTING"] = True
    with application.app_context():
        from cloud_hub.web.extensions import limiter

        limiter.reset()
    yield application
    database.close()


@pytest.fixture
def tenants(hub_app):
    """Two organisations, each with two clinics."""
    from cloud_hub.tenancy import create_clinic, create_organisation

    with database.connection_context():
        acme = create_organisation("Acme Health")
        other = create_organisation("Other Care")
        return {
            "acme": acme,
            "other": other,
            "north": create_clinic(acme, "North"),
            "south": create_clinic(acme, "South"),
            "elsewhere": create_clinic(other, "Elsewhere"),
        }


class Box:
    """A test box: its key, its device id at the hub, and a client that signs every request."""

    def __init__(self, client, device_id: str, key):
        self.client, self.device_id, self.key = client, device_id, key

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        headers=None,
        now=None,
        key=None,
        content_type="application/json",
    ):
        signed = protocol.sign_request(key or self.key, self.device_id, method, path, body, now=now)
        signed.update(headers or {})
        return self.client.open(path, method=method, data=body, headers=signed, content_type=content_type)

    def post_json(self, path: str, payload) -> object:
        import json

        return self.request("POST", path, json.dumps(payload).encode())


def enrol_box(hub_app, clinic, name="front desk box") -> Box:
    """Issue a token for `clinic` and enrol a new key with it through the API."""
    from cloud_hub.devices import issue_enrolment_token

    with database.connection_context():
        token, _ = issue_enrolment_token(clinic, created_by="test", hours=1)
    key = protocol.new_private_key()
    client = hub_app.test_client()
    answer = client.post(
        "/api/v1/sync/enrol", json={"token": token, "public_key": protocol.public_key_text(key), "name": name}
    )
    assert answer.status_code == 201, answer.get_json()
    return Box(client, answer.get_json()["device_id"], key)


HUB_PASSWORD = "hub-password-123"


@pytest.fixture
def people(tenants):
    """Users of both organisations, one per role; Vera the viewer sees only the North clinic."""
    from cloud_hub.tenancy import create_user

    with database.connection_context():
        return {
            "admin": create_user(tenants["acme"], "admin@acme.test", HUB_PASSWORD, "org_admin"),
            "viewer": create_user(tenants["acme"], "vera@acme.test", HUB_PASSWORD, "viewer", [tenants["north"]]),
            "billing": create_user(tenants["acme"], "bill@acme.test", HUB_PASSWORD, "billing"),
            "it": create_user(tenants["acme"], "it@acme.test", HUB_PASSWORD, "it"),
            "other_admin": create_user(tenants["other"], "admin@other.test", HUB_PASSWORD, "org_admin"),
        }


def sign_in(hub_app, email: str, password: str = HUB_PASSWORD):
    """A test client signed in through POST /api/auth/token."""
    client = hub_app.test_client()
    answer = client.post("/api/auth/token", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.get_json()
    return client


def csrf_header(client) -> dict:
    """The X-CSRFToken header for a signed-in API client."""
    return {"X-CSRFToken": client.get("/api/auth/me").get_json()["csrf_token"]}


def file_document(
    box: Box,
    text: str,
    mrn: str,
    last_name: str = "Smith",
    original: bytes | None = None,
    original_name: str = "scan.pdf",
) -> str:
    """Sync one filed document (original uploaded, then the batch) from `box`; its uid."""
    import hashlib
    import json

    original = original or f"%PDF-1.4 {text}".encode()
    sha = hashlib.sha256(original).hexdigest()
    for offset in range(0, len(original), 64 * 1024):
        uploaded = box.request(
            "PUT",
            f"/api/v1/sync/blobs/{sha}?size={len(original)}&offset={offset}",
            original[offset : offset + 64 * 1024],
            content_type="application/octet-stream",
        )
        assert uploaded.status_code in (200, 201), uploaded.get_json()
    uid = uuid.uuid4().hex
    item = {
        "id": uid,
        "type": "document",
        "document": {
            "uid": uid,
            "status": "filed",
            "doc_type": "lab_report",
            "doc_date": "2024-04-02",
            "original_name": original_name,
            "blob_sha256": sha,
            "patient": {"mrn": mrn, "last_name": last_name, "first_name": "Jo", "dob": "1970-01-01"},
            "pages": [{"number": 1, "text": text}],
        },
    }
    answer = box.request(
        "POST", "/api/v1/sync/batches", json.dumps({"batch_id": uuid.uuid4().hex, "seq": 1, "items": [item]}).encode()
    )
    assert answer.get_json()["results"][0]["status"] == "applied", answer.get_json()
    return uid


@pytest.fixture
def records(hub_app, tenants, people):
    """One synced document (and patient) in each clinic: North, South (Acme) and Elsewhere (Other)."""
    from cloud_hub.models import Device, Document

    found = {}
    for clinic, word, mrn in (("north", "nitrogen", "100"), ("south", "sodium", "200"), ("elsewhere", "osmium", "300")):
        box = enrol_box(hub_app, tenants[clinic], name=f"{clinic} box")
        uid = file_document(box, f"Laboratory report {word} level normal", mrn, last_name=f"{clinic.title()}son")
        with database.connection_context():
            document = Document.get(Document.uid == uid)
            found[clinic] = {
                "document": document.id,
                "patient": document.patient_id,
                "box": box,
                "clinic": tenants[clinic].id,
                "device": Device.get(Device.uid == box.device_id).uid,
                "word": word,
            }
    return found


@pytest.fixture
def served_hub(tmp_path, hub_app, hub_config):
    """The hub under gunicorn on this test's database, Redis and bucket; its base URL."""
    port = free_port()
    env = dict(
        os.environ,
        HUB_DATA_DIR=str(tmp_path / "served-hub"),
        DATABASE_URL=hub_config.database_url,
        REDIS_URL=hub_config.redis_url,
        S3_BUCKET=hub_config.s3_bucket,
        S3_ENDPOINT_URL=hub_config.s3_endpoint_url,
        S3_REGION=hub_config.s3_region,
        HUB_SECURE_COOKIES="false",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "cloud_hub", "serve", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
