"""The schema: migrations match the models, run once, and audit events are append-only."""

import peewee
import pytest

from appliance import audit
from appliance.db import database
from appliance.migrations import MIGRATIONS, current_version, migrate
from appliance.models import MODELS, AuditEvent


def test_migrated_tables_have_exactly_the_models_columns(box):
    for model in MODELS:
        columns = {row[1] for row in database.execute_sql(f'PRAGMA table_info("{model._meta.table_name}")')}
        assert columns == {field.column_name for field in model._meta.sorted_fields}, model.__name__


def test_migrations_apply_once_and_record_the_version(box):
    assert current_version(database) == MIGRATIONS[-1][0]
    assert migrate(database) == []


def test_pragmas_are_set(box):
    assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert database.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 10_000


def test_audit_events_cannot_be_changed_or_deleted(box):
    event = audit.record("test.event", actor="tester", note="x")
    with pytest.raises(peewee.IntegrityError, match="append-only"):
        AuditEvent.update(actor="someone else").where(AuditEvent.id == event.id).execute()
    with pytest.raises(peewee.IntegrityError, match="append-only"):
        AuditEvent.delete().where(AuditEvent.id == event.id).execute()
    assert AuditEvent.get_by_id(event.id).actor == "tester"
