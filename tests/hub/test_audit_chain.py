"""The hub's audit log is hash-chained per organisation: `python -m cloud_hub audit verify --org`
finds a row edited or deleted in PostgreSQL itself (by someone who lifts the append-only trigger),
and passes on an untouched log. A box's events arrive with the box's own chain, which the hub
checks as they come: a break or a gap is flagged on the devices page and in /metrics, and every
event is stored all the same."""

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import peewee as pw
import psycopg
import pytest

from appliance import audit as box_log
from appliance.models import AuditEvent as BoxAuditEvent
from appliance.sync.payloads import item_for
from cloud_hub import audit
from cloud_hub.db import database, database_from_url
from cloud_hub.migrations import MIGRATIONS, migrate
from cloud_hub.models import AuditEvent, Device
from core import migrations as runner
from core.audit_chain import event_hash
from tests.hub_fixtures import enrol_box, sign_in

ROOT = Path(__file__).resolve().parents[2]


def verify_cli(hub_config, tmp_path, *args):
    env = dict(os.environ, HUB_DATA_DIR=str(tmp_path / "cli-hub"), DATABASE_URL=hub_config.database_url)
    return subprocess.run(
        [sys.executable, "-m", "cloud_hub", "audit", "verify", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def as_attacker(hub_config, statement, params=()):
    """Change the hub's PostgreSQL database directly, its append-only trigger lifted for it."""
    with psycopg.connect(hub_config.database_url, autocommit=True) as db:
        db.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
        db.execute(statement, params)
        db.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")


def acme_event_ids(tenants) -> list[int]:
    with database.connection_context():
        rows = AuditEvent.select(AuditEvent.id).where(AuditEvent.organisation == tenants["acme"].id)
        return [row.id for row in rows.order_by(AuditEvent.id)]


def test_an_untouched_log_verifies(hub_app, hub_config, tenants, people, tmp_path):
    sign_in(hub_app, "admin@acme.test")
    result = verify_cli(hub_config, tmp_path, "--org", "Acme Health")
    assert result.returncode == 0, result.stderr
    assert f"audit log intact: {len(acme_event_ids(tenants))} event(s) verified" in result.stdout
    everything = verify_cli(hub_config, tmp_path)
    assert everything.returncode == 0 and "Other Care: audit log intact" in everything.stdout


def test_a_row_edited_in_postgresql_is_found(hub_app, hub_config, tenants, people, tmp_path):
    edited = acme_event_ids(tenants)[2]
    as_attacker(hub_config, "UPDATE audit_event SET actor = %s WHERE id = %s", ("someone@else.test", edited))
    result = verify_cli(hub_config, tmp_path, "--org", "Acme Health")
    assert result.returncode == 1
    assert f"broken at event {edited}: event {edited} does not match its hash" in result.stderr
    assert verify_cli(hub_config, tmp_path, "--org", "Other Care").returncode == 0


def test_a_row_deleted_in_postgresql_is_found(hub_app, hub_config, tenants, people, tmp_path):
    first, removed, third = acme_event_ids(tenants)[:3]
    as_attacker(hub_config, "DELETE FROM audit_event WHERE id = %s", (removed,))
    result = verify_cli(hub_config, tmp_path, "--org", "Acme Health")
    assert result.returncode == 1 and f"event {third} does not follow event {first}" in result.stderr


def test_an_unknown_organisation_is_an_error(hub_app, hub_config, tmp_path):
    result = verify_cli(hub_config, tmp_path, "--org", "Nobody")
    assert result.returncode == 2 and "Nobody" in result.stderr


def test_writers_at_once_never_follow_the_same_event(hub_app, tenants):
    """Web workers and batch commits append to one organisation's chain at the same moment."""
    failures = []

    def write(worker: int):
        try:
            with database.connection_context():
                for n in range(10):
                    audit.record("document.view", actor=f"worker-{worker}", organisation=tenants["acme"], n=n)
        except Exception as error:  # reported below; a thread's exception is otherwise lost
            failures.append(error)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with database.connection_context():
        verified, broken = audit.verify(tenants["acme"].id)
    assert broken is None and verified == len(acme_event_ids(tenants))


@pytest.fixture(params=["sqlite", "postgres"])
def older_hub(request, tmp_path):
    """A hub database at migration 10, before the chains, on either of its databases."""
    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'old-hub.db'}", None
    else:
        server = request.getfixturevalue("postgres_url")
        name = f"digifort_old_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url, drop = urlunparse(urlparse(server)._replace(path=f"/{name}")), name
    previous = database.obj
    database.initialize(database_from_url(url))
    dialect = 2 if request.param == "postgres" else 3
    runner.migrate(database, [(m[0], m[1], m[dialect]) for m in MIGRATIONS if m[0] <= 10])
    yield request.param
    database.close()
    database.initialize(previous)
    if drop:
        with psycopg.connect(request.getfixturevalue("postgres_url"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')


def test_the_migration_chains_the_events_of_an_older_hub(older_hub):
    mark = database.param
    database.execute_sql(
        f'INSERT INTO "organisation" ("uid", "name", "created_at") VALUES ({mark}, {mark}, {mark})',
        ("o1", "Acme Health", dt.datetime(2025, 1, 1)),
    )
    for n, organisation in enumerate((1, None, 1, 1)):
        database.execute_sql(
            f'INSERT INTO "audit_event" ("organisation_id", "at", "actor", "action", "detail") '
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark})",
            (
                organisation,
                dt.datetime(2025, 6, 1 + n, 9, 0, 0, n * 50_000),
                "admin@acme.test",
                "login",
                json.dumps({"n": n}),
            ),
        )
    assert migrate() == [m[0] for m in MIGRATIONS if m[0] > 10]
    assert audit.verify(1) == (3, None) and audit.verify(None) == (1, None)
    audit.record("logout", actor="admin@acme.test", organisation=1)
    assert audit.verify(1) == (4, None)
    with pytest.raises(pw.DatabaseError, match="append-only"), database.atomic():
        AuditEvent.update(actor="x").where(AuditEvent.id == 1).execute()


# A box's chain at the hub, sent through the real sync API from a real box's audit log.


@pytest.fixture
def desk(box, hub_app, tenants, people):
    """A box with five audit events, enrolled at the North clinic."""
    for n in range(5):
        box_log.record("document.view", actor="bob", address="10.0.0.5", viewed=n)
    return enrol_box(hub_app, tenants["north"], name="front desk box")


def on_the_box(box_config, *statements):
    """Change the box's database file directly, its append-only triggers dropped first."""
    with sqlite3.connect(box_config.database_path) as db:
        db.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        db.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
        for statement, *params in statements:
            db.execute(statement, params)


def send(desk, ids, seq=1):
    """The box's audit items for these event ids (as the sync agent builds them), in one batch."""
    items = [item for item in (item_for("audit", str(n))[0] for n in ids) if item is not None]
    answer = desk.post_json("/api/v1/sync/batches", {"batch_id": uuid.uuid4().hex, "seq": seq, "items": items})
    assert answer.status_code == 200, answer.get_json()
    return [result["status"] for result in answer.get_json()["results"]]


def device_of(desk) -> Device:
    with database.connection_context():
        return Device.get(Device.uid == desk.device_id)


def devices_page(hub_app) -> str:
    return sign_in(hub_app, "it@acme.test").get("/devices").get_data(as_text=True)


def scraped(hub_app, hub_config) -> str:
    from cloud_hub import create_app

    scraper = create_app(hub_config.with_overrides(metrics_token="scrape-secret")).test_client()
    return scraper.get("/metrics", headers={"Authorization": "Bearer scrape-secret"}).get_data(as_text=True)


def metric(text: str, name: str, desk) -> float:
    line = next(line for line in text.splitlines() if line.startswith(name) and desk.device_id in line)
    return float(line.rsplit(" ", 1)[1])


def test_an_untouched_box_chain_arrives_whole(desk, hub_app, hub_config):
    assert send(desk, [1, 2, 3]) == ["applied"] * 3
    assert send(desk, [4, 5, 3], seq=2) == ["applied", "applied", "unchanged"]
    device = device_of(desk)
    assert device.audit_breaks == 0 and device.audit_missing == 0
    assert "no break found" in devices_page(hub_app)
    assert metric(scraped(hub_app, hub_config), "digifort_hub_device_audit_chain_breaks", desk) == 0


def test_an_event_edited_on_the_box_is_flagged_and_still_stored(desk, box, hub_app, hub_config):
    on_the_box(box, ("UPDATE audit_event SET actor = ? WHERE id = ?", "mallory", 3))
    assert send(desk, [1, 2, 3, 4, 5]) == ["applied"] * 5
    device = device_of(desk)
    assert device.audit_breaks == 1 and "event 3 does not match its hash" in device.audit_problem
    page = devices_page(hub_app)
    assert "broken" in page and "event 3 does not match its hash" in page
    assert metric(scraped(hub_app, hub_config), "digifort_hub_device_audit_chain_breaks", desk) == 1
    with database.connection_context():
        kept = AuditEvent.get(AuditEvent.source_key == f"{desk.device_id}:3")
        flagged = AuditEvent.get(AuditEvent.action == "device.audit_chain")
    assert kept.actor == "mallory (box front desk box)"
    assert "event 3 does not match its hash" in flagged.detail


def test_an_event_rewritten_with_a_new_hash_breaks_the_next_link(desk, box, hub_app):
    event = BoxAuditEvent.get_by_id(3)
    fields = box_log.chained_fields(
        3, event.at, "mallory", event.action, event.object_type, event.object_id, event.address, event.detail
    )
    on_the_box(
        box,
        (
            "UPDATE audit_event SET actor = ?, hash = ? WHERE id = 3",
            "mallory",
            event_hash(fields, event.prev_hash),
        ),
    )
    send(desk, [1, 2, 3, 4, 5])
    device = device_of(desk)
    assert device.audit_breaks == 1 and device.audit_problem == "event 4 does not follow event 3"


def test_an_event_removed_on_the_box_is_a_gap(desk, box, hub_app, hub_config):
    on_the_box(box, ("DELETE FROM audit_event WHERE id = ?", 3))
    assert send(desk, [1, 2, 3, 4, 5]) == ["applied"] * 4
    device = device_of(desk)
    assert device.audit_missing == 1 and device.audit_breaks == 0
    assert "1 event(s) missing" in devices_page(hub_app)
    assert metric(scraped(hub_app, hub_config), "digifort_hub_device_audit_events_missing", desk) == 1


def test_a_late_event_closes_the_gap(desk, hub_app):
    send(desk, [1, 2, 4])
    assert device_of(desk).audit_missing == 1
    send(desk, [3, 5], seq=2)
    device = device_of(desk)
    assert device.audit_missing == 0 and device.audit_breaks == 0
    assert "no break found" in devices_page(hub_app)


def test_an_event_sent_again_with_other_content_is_kept_beside_the_first(desk, box, hub_app):
    send(desk, [1, 2, 3])
    on_the_box(box, ("UPDATE audit_event SET detail = ?, hash = ? WHERE id = 2", '{"viewed": 7}', "f" * 64))
    send(desk, [2], seq=2)
    device = device_of(desk)
    assert device.audit_breaks >= 1 and device.audit_problem == "event 2 arrived again with different content"
    with database.connection_context():
        copies = AuditEvent.select().where(AuditEvent.source_key.startswith(f"{desk.device_id}:2"))
        assert sorted(json.loads(e.detail)["viewed"] for e in copies) == [1, 7]


def test_an_event_without_its_hash_once_the_chain_started_is_a_break(desk, hub_app):
    send(desk, [1, 2])
    stripped = item_for("audit", "3")[0]
    del stripped["event"]["hash"], stripped["event"]["prev_hash"]
    items = [stripped, item_for("audit", "4")[0]]
    answer = desk.post_json("/api/v1/sync/batches", {"batch_id": uuid.uuid4().hex, "seq": 2, "items": items})
    assert [r["status"] for r in answer.get_json()["results"]] == ["applied", "applied"]
    device = device_of(desk)
    assert device.audit_breaks == 1 and device.audit_problem == "event 3 arrived without its hash"
    with database.connection_context():
        fourth = AuditEvent.get(AuditEvent.source_key == f"{desk.device_id}:4")
    assert fourth.box_event_id == 4 and fourth.box_hash == BoxAuditEvent.get_by_id(4).hash
