"""The box's SQLite database: one late-initialised handle, pragmas in one place.

On an encrypted box the same handle connects through SQLCipher with the data key's raw key
(set first on every connection, before anything reads the file); FTS5 and every pragma work the
same. On a plain box it is the standard library's sqlite3.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

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
    """SQLite, or SQLCipher when `keys` (PRAGMA key values: the key, then the one it replaces
    during a rotation) are set. When none opens the file, `refresh()` is asked for the keys once
    more: another process may have rotated them (the web keeps serving through a rotation)."""

    keys: tuple[str, ...] = ()
    refresh: Callable[[], tuple[str, ...]] | None = None

    @property
    def key(self) -> str | None:
        return self.keys[0] if self.keys else None

    def _keyed(self, key: str):
        conn = sqlcipher3.connect(self.database, timeout=self._timeout, isolation_level=None, **self.connect_params)
        try:
            conn.execute(f'PRAGMA key = "{key}"')
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a wrong key fails here
        except sqlcipher3.DatabaseError:
            conn.close()
            return None
        return conn

    def _connect(self):
        if not self.keys:
            return super()._connect()
        conn = next(filter(None, map(self._keyed, self.keys)), None)
        if conn is None and self.refresh is not None:
            self.keys = self.refresh()
            conn = next(filter(None, map(self._keyed, self.keys)), None)
        if conn is None:
            raise sqlcipher3.DatabaseError("the box's database does not open with its data key")
        try:
            self._add_conn_hooks(conn)
        except Exception:
            conn.close()
            raise
        return conn


database = BoxDatabase(None)
DatabaseErrors = (sqlite3.DatabaseError, sqlcipher3.DatabaseError)


def open_database(
    path, keys: tuple[str, ...] = (), refresh: Callable[[], tuple[str, ...]] | None = None
) -> BoxDatabase:
    """Point the shared handle at `path` (creating its folder), through SQLCipher with `keys` if
    given, and connect."""
    if not database.is_closed():
        database.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    database.keys, database.refresh = keys, refresh
    database.init(str(path), pragmas=PRAGMAS, timeout=10)
    database.connect()
    return database
