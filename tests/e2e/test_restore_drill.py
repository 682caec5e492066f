"""The restore drill: back up a box's SQLite and the hub's PostgreSQL with the shipped commands,
destroy both, restore them, and find every document again."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from cloud_hub.db import database as hub_database
from cloud_hub.models import Document as HubDocument
from tests.factories import make_document
from tests.hub_fixtures import sign_in

ROOT = Path(__file__).resolve().parents[2]


def run(module, env, *args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, timeout=300, **kwargs
    )


def test_a_box_database_comes_back_from_its_online_backup(box, tmp_path):
    texts = ["copper sulphate report", "zinc oxide letter", "iron studies result"]
    for text in texts:
        make_document(box, texts=(text,))
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(box.data_dir), APPLIANCE_INBOX=str(box.inbox))
    backup = tmp_path / "backups" / "appliance.db"
    assert run("appliance", env, "backup", "--to", str(backup)).returncode == 0
    for suffix in ("", "-wal", "-shm"):
        Path(f"{box.database_path}{suffix}").unlink(missing_ok=True)
    gone = run("appliance", env, "search", "copper", "--json", text=True)
    assert gone.returncode == 0 and gone.stdout.strip() == ""
    not_a_backup = tmp_path / "notes.db"
    not_a_backup.write_text("hello")
    refused = run("appliance", env, "restore", str(not_a_backup), text=True)
    assert refused.returncode == 2 and "not a box database backup" in refused.stderr
    assert run("appliance", env, "restore", str(backup)).returncode == 0
    for text in texts:
        found = run("appliance", env, "search", text.split()[0], "--json", text=True)
        assert found.returncode == 0 and len(found.stdout.strip().splitlines()) == 1, found.stderr


def test_the_hub_database_comes_back_from_the_nightly_dump_in_s3(hub_app, hub_config, records, tmp_path):
    env = dict(
        os.environ,
        HUB_DATA_DIR=str(tmp_path / "cli"),
        DATABASE_URL=hub_config.database_url,
        S3_BUCKET=hub_config.s3_bucket,
        S3_ENDPOINT_URL=hub_config.s3_endpoint_url,
        S3_REGION="us-east-1",
    )
    dump = subprocess.run(
        ["pg_dump", "--format=custom", hub_config.database_url], capture_output=True, check=True
    ).stdout
    assert run("cloud_hub", env, "backup-upload", "--key", "backups/postgres/drill.dump", input=dump).returncode == 0
    hub_database.close()
    name = hub_config.database_url.rsplit("/", 1)[1]
    server = hub_config.database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    fetched = run("cloud_hub", env, "backup-download", "--key", "backups/postgres/drill.dump")
    assert fetched.returncode == 0 and fetched.stdout == dump
    restored = subprocess.run(
        ["pg_restore", "--no-owner", "-d", hub_config.database_url], input=fetched.stdout, capture_output=True
    )
    assert restored.returncode == 0, restored.stderr
    with hub_database.connection_context():
        assert sorted(d.id for d in HubDocument.select()) == sorted(r["document"] for r in records.values())
    admin_client = sign_in(hub_app, "admin@acme.test")
    found = admin_client.get("/api/v1/documents?q=sodium").get_json()["results"]
    assert [r["clinic"] for r in found] == ["South"] and json.dumps(found)
