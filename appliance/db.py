"""The box's SQLite database: one late-initialised handle, pragmas in one place.

On an encrypted box the same handle connects through SQLCipher with the data key's raw key
(set first on every connection, before anything reads the file); FTS5 and every pragma work the
same. On a plain box it is the standard library's sqlite3.
"""

from __future__ import annotations

import sqlite3

import peewee as pw
import sqlcipher3

PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    # FULL: a commit survives a power cut, and intake deletes inbox files right after one.
    "synchronous": "full",
    "cache_size": -16_000,
}


class BoxDatabase(pw.SqliteDatabase):
    """SQLite, or SQLCipher when `key` (a PRAGMA key value) is set."""

    key: str | None = None

    def _connect(self):
        if self.key is None:
            return super()._connect()
        conn = sqlcipher3.connect(self.database, timeout=self._timeout, isolation_level=None, **self.connect_params)
        try:
            conn.execute(f'PRAGMA key = "{self.key}"')
            self._add_conn_hooks(conn)
        except Exception:
            conn.close()
            raise
        return conn


database = BoxDatabase(None)
DatabaseErrors = (sqlite3.DatabaseError, sqlcipher3.DatabaseError)


def open_database(path, key: str | None = None) -> BoxDatabase:
    """Point the shared handle at `path` (creating its folder), with SQLCipher `key` if given, and connect."""
    if not database.is_closed():
        database.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    database.key = key
    database.init(str(path), pragmas=PRAGMAS, timeout=10)
    database.connect()
    return database
