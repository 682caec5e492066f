"""The hub's schema: on both of its databases (SQLite, the embedded default, and PostgreSQL) the
frozen migrations make exactly the tables, columns, keys and indexes the models declare."""

import peewee as pw
import pytest

from cloud_hub.config import HubConfig
from cloud_hub.db import database, is_postgres
from cloud_hub.hub import open_hub
from cloud_hub.migrations import MIGRATIONS, applied_versions, migrate
from cloud_hub.models import MODELS, Clinic
from tests.schema_check import models_defined_in, schema_problems, unmodelled_tables

HUB_MODELS = models_defined_in("cloud_hub.models")

# Columns the migrations add that no model field maps, each with the reason (PostgreSQL only).
COLUMNS_WITHOUT_FIELDS = {
    ("page", "search"): "generated tsvector over page text (GIN index), only read in SQL by cloud_hub/search.py",
}
TABLES_WITHOUT_MODELS = {"schema_migrations": "the migration runner's own bookkeeping (core/migrations.py)"}


@pytest.fixture(params=["sqlite", "postgres"])
def migrated_hub(request, tmp_path):
    """The hub's database, migrated: the embedded SQLite default (no DATABASE_URL), or PostgreSQL."""
    if request.param == "sqlite":
        config = HubConfig(data_dir=tmp_path / "hub")
    else:
        config = request.getfixturevalue("hub_config")
    open_hub(config)
    assert is_postgres() == (request.param == "postgres")
    yield request.param
    database.close()


def test_models_lists_every_model():
    """Test fixtures empty the tables listed in MODELS; a model left out would keep rows between tests."""
    assert set(HUB_MODELS) == set(MODELS)


def test_migrated_tables_match_the_models(migrated_hub):
    extra = COLUMNS_WITHOUT_FIELDS if migrated_hub == "postgres" else {}
    assert schema_problems(database, HUB_MODELS, extra_columns=extra) == []


def test_every_migrated_table_has_a_model_or_a_reason(migrated_hub):
    assert unmodelled_tables(database, HUB_MODELS, TABLES_WITHOUT_MODELS) == []


def test_migrations_apply_once_and_record_the_version(migrated_hub):
    assert max(applied_versions()) == MIGRATIONS[-1][0]
    assert migrate() == []


def test_the_schema_check_finds_a_model_that_differs_from_its_table(migrated_hub):
    class DriftedDevice(pw.Model):
        uid = pw.CharField(unique=True)
        organisation_id = pw.IntegerField()  # a foreign key in the table
        clinic = pw.ForeignKeyField(Clinic, backref="+", on_delete="CASCADE")  # RESTRICT in the table
        name = pw.TextField(null=True)  # VARCHAR(255) NOT NULL in the table
        public_key = pw.CharField(max_length=64)  # VARCHAR(255): PostgreSQL enforces lengths, SQLite does not
        last_seq = pw.IntegerField()  # BIGINT: one type on SQLite, two on PostgreSQL
        firmware = pw.CharField()  # not in the table (and most of the table's columns are not in the model)

        class Meta:
            database = database
            table_name = "device"
            indexes = ((("clinic", "name"), False),)

    problems = schema_problems(database, [DriftedDevice])
    missing = [
        "enrolled_at",
        "key_rotated_at",
        "revoked_at",
        "last_seen_at",
        "last_batch_at",
        "seq_gaps",
        "reported_backlog",
        "bytes_in",
        "bytes_out",
        "reported_oldest_seconds",
        "reported_bytes_pending",
        "reported_last_error",
        "reported_quarantine",
        "audit_breaks",
        "audit_missing",
        "audit_problem",
        "audit_problem_at",
    ]
    expected = [
        "DriftedDevice (device): column name is NOT NULL, the model says null=True",
        "DriftedDevice (device): column firmware missing",
        "DriftedDevice (device): foreign key clinic_id is ON DELETE RESTRICT, the model CASCADE",
        "DriftedDevice (device): table has a foreign key on organisation_id that the model does not declare",
        "DriftedDevice (device): no index on ['clinic_id', 'name']",
        *(f"DriftedDevice (device): table has column {name} that the model lacks" for name in missing),
    ]
    if migrated_hub == "postgres":
        expected += [
            "DriftedDevice (device): column name is character varying(255), the model's TextField needs TEXT",
            "DriftedDevice (device): column public_key is character varying(255), "
            "the model's CharField needs VARCHAR(64)",
            "DriftedDevice (device): column last_seq is bigint, the model's IntegerField needs INTEGER",
        ]
    assert sorted(problems) == sorted(expected)
