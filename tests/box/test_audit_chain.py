"""The box's audit log is hash-chained: `python -m appliance audit verify` finds an event edited
or removed in the database file itself (by someone who drops the append-only triggers, as anyone
holding the file can), and passes on an untouched log."""

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import peewee as pw
import pytest

from appliance import audit
from appliance.db import database
from appliance.migrations import MIGRATIONS, migrate
from appliance.models import AuditEvent
from core import migrations as runner
from core.audit_chain import event_hash

ROOT = Path(__file__).resolve().parents[2]


def verify_cli(box_config):
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(box_config.data_dir), APPLIANCE_INBOX=str(box_config.inbox))
    return subprocess.run(
        [sys.executable, "-m", "appliance", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def as_attacker(box_config, *statements):
    """Change the database file directly, the append-only triggers dropped first."""
    with sqlite3.connect(box_config.database_path) as db:
        db.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        db.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
        for statement, *params in statements:
            db.execute(statement, params)


@pytest.fixture
def five_events(box, users):
    """A log of real events: the two users created, then three more."""
    for n in range(3):
        audit.record("document.view", actor="bob", address="10.0.0.5", viewed=n)
    return box


def test_an_untouched_log_verifies(five_events):
    result = verify_cli(five_events)
    assert result.returncode == 0, result.stderr
    assert "5 event(s) verified" in result.stdout


def test_an_event_edited_in_the_file_is_found(five_events):
    as_attacker(five_events, ("UPDATE audit_event SET actor = ? WHERE id = ?", "alice", 4))
    result = verify_cli(five_events)
    assert result.returncode == 1
    assert "broken at event 4" in result.stderr and "event 4 does not match its hash" in result.stderr
    assert "3 event(s) before it verified" in result.stderr


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(five_events):
    event = AuditEvent.get_by_id(3)
    detail = {"viewed": 99}
    fields = audit.chained_fields(
        3, event.at, event.actor, event.action, event.object_type, event.object_id, event.address, detail
    )
    forged = event_hash(fields, event.prev_hash)
    as_attacker(five_events, ("UPDATE audit_event SET detail = ?, hash = ? WHERE id = 3", json.dumps(detail), forged))
    result = verify_cli(five_events)
    assert result.returncode == 1 and "event 4 does not follow event 3" in result.stderr


def test_a_deleted_event_is_a_gap(five_events):
    as_attacker(five_events, ("DELETE FROM audit_event WHERE id = ?", 3))
    result = verify_cli(five_events)
    assert result.returncode == 1
    assert "event 3 missing: event 4 does not follow event 2" in result.stderr


def test_removing_the_first_events_shows(five_events):
    as_attacker(five_events, ("DELETE FROM audit_event WHERE id <= ?", 2))
    result = verify_cli(five_events)
    assert result.returncode == 1 and "event 3 is the first one left" in result.stderr


def test_an_event_inserted_outside_the_audit_log_shows(five_events):
    as_attacker(
        five_events,
        (
            "INSERT INTO audit_event (id, at, actor, action) VALUES (?, ?, ?, ?)",
            6,
            "2026-01-01 00:00:00",
            "mallory",
            "auth.login",
        ),
    )
    result = verify_cli(five_events)
    assert result.returncode == 1 and "event 6 has no hash" in result.stderr


def test_the_chain_still_refuses_updates_through_the_app(five_events):
    with pytest.raises(pw.IntegrityError, match="append-only"):
        AuditEvent.update(hash="0" * 64).where(AuditEvent.id == 1).execute()


def test_writers_at_once_never_follow_the_same_event(box):
    """Web workers and the ingest worker record at the same moment, each on its own connection."""
    failures = []

    def write(worker: int):
        try:
            for n in range(25):
                audit.record("document.view", actor=f"worker-{worker}", n=n)
        except Exception as error:  # reported below; a thread's exception is otherwise lost
            failures.append(error)
        finally:
            database.close()

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    verified, broken = audit.verify()
    assert broken is None and verified == 100
    assert len({e.prev_hash for e in AuditEvent.select()}) == 100


def test_the_migration_chains_the_events_of_an_older_box(box_config, tmp_path):
    path = tmp_path / "old.db"
    database.init(str(path))
    database.connect()
    try:
        runner.migrate(database, [m for m in MIGRATIONS if m[0] <= 8])
        for n in range(3):
            database.execute_sql(
                "INSERT INTO audit_event (at, actor, action, detail) VALUES (?, ?, ?, ?)",
                (f"2025-06-0{n + 1} 09:00:00.{n}00000", "alice", "document.view", json.dumps({"n": n})),
            )
        database.execute_sql(
            "INSERT INTO audit_event (at, actor, action) VALUES (?, ?, ?)", ("2025-06-04 09:00:00", "bob", "auth.login")
        )
        assert migrate(database) == [m[0] for m in MIGRATIONS if m[0] > 8]
        verified, broken = audit.verify()
        assert broken is None and verified == 4
        audit.record("auth.logout", actor="bob")
        assert audit.verify() == (5, None)
        with pytest.raises(pw.IntegrityError, match="append-only"):
            AuditEvent.update(actor="x").where(AuditEvent.id == 1).execute()
    finally:
        database.close()
