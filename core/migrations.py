"""The migration runner both sides use: numbered lists of frozen SQL, applied once, in order.

Boxes and hubs in the field are upgraded in place, so a released migration is never edited; a
new one is added. Every pending migration is applied in one transaction with its bookkeeping
row in `schema_migrations`, so a crash leaves the database at the old version or the new one.
A step is an SQL statement, or a function of the database for what SQL alone cannot do (it
reads and writes with plain SQL too, never through the models, which change over time).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import peewee as pw

from .clock import utcnow

Step = str | Callable[[pw.Database], None]
Migration = tuple[int, str, Sequence[Step]]
BOOKKEEPING = (
    'CREATE TABLE IF NOT EXISTS "schema_migrations" ("version" INTEGER NOT NULL PRIMARY KEY, '
    '"name" VARCHAR(255) NOT NULL, "applied_at" TIMESTAMP NOT NULL)'
)


def applied_versions(db: pw.Database) -> set[int]:
    """Versions already applied to `db`."""
    db.execute_sql(BOOKKEEPING)
    return {row[0] for row in db.execute_sql('SELECT "version" FROM "schema_migrations"').fetchall()}


def migrate(db: pw.Database, migrations: Sequence[Migration], lock: str | None = None) -> list[int]:
    """Apply every migration not yet applied to `db`; the versions applied now.

    `lock` is a statement run first in the transaction (PostgreSQL's advisory lock), so two
    processes starting at once take turns instead of applying a migration twice.
    """
    applied_now = []
    with db.atomic():
        if lock:
            db.execute_sql(lock)
        done = applied_versions(db)
        for version, name, steps in migrations:
            if version in done:
                continue
            for step in steps:
                if callable(step):
                    step(db)
                else:
                    db.execute_sql(step)
            mark = db.param
            db.execute_sql(
                f'INSERT INTO "schema_migrations" ("version", "name", "applied_at") VALUES ({mark}, {mark}, {mark})',
                (version, name, utcnow()),
            )
            applied_now.append(version)
    return applied_now


def current_version(db: pw.Database) -> int:
    """The highest applied migration version (0 for an empty database)."""
    return max(applied_versions(db), default=0)
