"""The box's SQLite database: one late-initialised handle, pragmas in one place."""

from __future__ import annotations

import peewee as pw

PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    # FULL: a commit survives a power cut, and intake deletes inbox files right after one.
    "synchronous": "full",
    "cache_size": -16_000,
}

database = pw.SqliteDatabase(None)


def open_database(path) -> pw.SqliteDatabase:
    """Point the shared handle at `path` (creating its folder) and connect."""
    if not database.is_closed():
        database.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    database.init(str(path), pragmas=PRAGMAS, timeout=10)
    database.connect()
    return database
