"""The schema: migrations match the models, run once, and audit events are append-only."""

import peewee as pw
import pytest

from appliance import audit
from appliance.db import database
from appliance.migrations import MIGRATIONS, current_version, migrate
from appliance.models import (
    MODELS,
    AuditEvent,
    Outbox,
    Patient,
    SyncBatch,
    SyncConflict,
    SyncState,
    User,
    WebSession,
)
from tests.schema_check import models_defined_in, schema_problems, unmodelled_tables

# Every model in appliance/models.py, not only those in its MODELS list (the sync agent's
# tables are defined after it).
BOX_MODELS = models_defined_in("appliance.models")

# Tables the migrations make that no model maps, each with the reason.
TABLES_WITHOUT_MODELS = {
    "schema_migrations": "the migration runner's own bookkeeping (core/migrations.py)",
    "rate_limit": "login rate-limit counters, read and written in SQL by appliance/web/ratelimit.py",
    "page_fts": "the FTS5 full-text index over page text (rowid = page.id), queried in SQL by appliance/search.py",
    "search_term": "search's vocabulary (indexed words, pages each is on), in SQL by appliance/search.py",
    "page_fts_config": "FTS5's own shadow table for page_fts",
    "page_fts_content": "FTS5's own shadow table for page_fts",
    "page_fts_data": "FTS5's own shadow table for page_fts",
    "page_fts_docsize": "FTS5's own shadow table for page_fts",
    "page_fts_idx": "FTS5's own shadow table for page_fts",
    "annotation_fts": "FTS5 index over tags and notes (rowid = document.id), appliance/annotation_search.py",
    "annotation_fts_config": "FTS5's own shadow table for annotation_fts",
    "annotation_fts_content": "FTS5's own shadow table for annotation_fts",
    "annotation_fts_data": "FTS5's own shadow table for annotation_fts",
    "annotation_fts_docsize": "FTS5's own shadow table for annotation_fts",
    "annotation_fts_idx": "FTS5's own shadow table for annotation_fts",
}


def test_every_model_is_checked():
    assert set(MODELS) <= set(BOX_MODELS)
    assert {Outbox, SyncBatch, SyncState, SyncConflict, WebSession} <= set(BOX_MODELS)


def test_migrated_tables_match_the_models(box):
    assert schema_problems(database, BOX_MODELS) == []


def test_every_migrated_table_has_a_model_or_a_reason(box):
    assert unmodelled_tables(database, BOX_MODELS, TABLES_WITHOUT_MODELS) == []


def test_the_schema_check_finds_a_model_that_differs_from_its_table(box):
    class DriftedPatient(pw.Model):
        mrn = pw.CharField()  # the table has a unique index on it
        last_name = pw.IntegerField()  # VARCHAR in the table
        first_name = pw.CharField(null=True)  # NOT NULL in the table
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        source = pw.CharField()
        nickname = pw.CharField()  # not in the table; and `dob` is not in the model

        class Meta:
            database = database
            table_name = "patient"
            indexes = ((("first_name", "last_name"), True),)

    class DriftedSession(pw.Model):
        token = pw.CharField(unique=True)
        user = pw.ForeignKeyField(User, backref="+", on_delete="RESTRICT")  # CASCADE in the table
        address = pw.CharField(null=True)
        created_at = pw.DateTimeField()
        last_seen_at = pw.DateTimeField()
        ended_at = pw.DateTimeField(null=True)
        end_reason = pw.CharField(null=True)
        patient = pw.ForeignKeyField(Patient, backref="+", null=True)  # no such column

        class Meta:
            database = database
            table_name = "web_session"

    class Missing(pw.Model):
        name = pw.CharField()

        class Meta:
            database = database
            table_name = "no_such_table"

    problems = schema_problems(database, [DriftedPatient, DriftedSession, Missing])
    assert sorted(problems) == sorted(
        [
            "DriftedPatient (patient): column last_name is VARCHAR(255), the model's IntegerField needs INTEGER",
            "DriftedPatient (patient): column first_name is NOT NULL, the model says null=True",
            "DriftedPatient (patient): column nickname missing",
            "DriftedPatient (patient): table has column dob that the model lacks",
            "DriftedPatient (patient): no unique index on ['first_name', 'last_name']",
            "DriftedPatient (patient): unique index patient_mrn on ['mrn'] is not declared by the model",
            "DriftedSession (web_session): column patient_id missing",
            "DriftedSession (web_session): foreign key user_id is ON DELETE CASCADE, the model RESTRICT",
            "DriftedSession (web_session): no foreign key on patient_id (the model points it at ('patient', 'id'))",
            "DriftedSession (web_session): no index on ['patient_id']",
            "Missing (no_such_table): table missing",
        ]
    )
    assert unmodelled_tables(database, BOX_MODELS, {}) == sorted(TABLES_WITHOUT_MODELS)


def test_migrations_apply_once_and_record_the_version(box):
    assert current_version(database) == MIGRATIONS[-1][0]
    assert migrate(database) == []


def test_pragmas_are_set(box):
    assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert database.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 10_000


def test_audit_events_cannot_be_changed_or_deleted(box):
    event = audit.record("test.event", actor="tester", note="x")
    with pytest.raises(pw.IntegrityError, match="append-only"):
        AuditEvent.update(actor="someone else").where(AuditEvent.id == event.id).execute()
    with pytest.raises(pw.IntegrityError, match="append-only"):
        AuditEvent.delete().where(AuditEvent.id == event.id).execute()
    assert AuditEvent.get_by_id(event.id).actor == "tester"
