"""A `limits` storage backend on the box's SQLite database.

Flask-Limiter needs counters shared by every gunicorn worker; the box has no Redis, but it
has SQLite, which every worker already opens. Registering this class makes the scheme
`digifort+sqlite://` usable as Flask-Limiter's storage URI (fixed-window strategy).
"""

from __future__ import annotations

import time

import peewee
from limits.storage import Storage

from ..db import database


class SQLiteStorage(Storage):
    STORAGE_SCHEME = ["digifort+sqlite"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return peewee.DatabaseError

    def _row(self, key: str):
        return database.execute_sql("SELECT count, expires_at FROM rate_limit WHERE key = ?", (key,)).fetchone()

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with database.atomic("IMMEDIATE"):
            row = self._row(key)
            if row is None or row[1] <= now:
                count, expires_at = amount, now + expiry
            else:
                count, expires_at = row[0] + amount, row[1]
            database.execute_sql(
                "INSERT INTO rate_limit (key, count, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET count = excluded.count, expires_at = excluded.expires_at",
                (key, count, expires_at),
            )
        return count

    def get(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row is not None and row[1] > time.time() else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row is not None and row[1] > time.time() else time.time()

    def check(self) -> bool:
        try:
            database.execute_sql("SELECT 1")
        except peewee.DatabaseError:
            return False
        return True

    def reset(self) -> int | None:
        return database.execute_sql("DELETE FROM rate_limit").rowcount

    def clear(self, key: str) -> None:
        database.execute_sql("DELETE FROM rate_limit WHERE key = ?", (key,))
