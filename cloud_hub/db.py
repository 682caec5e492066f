"""The hub's database: PostgreSQL from DATABASE_URL, or SQLite for the embedded default.

One late-bound proxy that every model uses; `open_database` points it at the configured
database. PostgreSQL is reached through psycopg 3; the web app keeps a pool of connections
(a new PostgreSQL connection costs more than the queries of a typical request).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import peewee as pw
from playhouse.pool import PooledDatabase
from playhouse.postgres_ext import PooledPsycopg3Database, Psycopg3Database

database = pw.DatabaseProxy()

SQLITE_PRAGMAS = {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10_000, "synchronous": "full"}
# Per web process: a connection is replaced once it is 5 minutes old, each one is checked on
# the way out of the pool (a restarted PostgreSQL costs no failed request), a request waits up
# to 30 s for a free one.
POOL = {"max_connections": 16, "stale_timeout": 300, "timeout": 30}


class DatabaseUrlError(ValueError):
    """DATABASE_URL is not a PostgreSQL or SQLite URL the hub can use."""


def database_from_url(url: str, pooled: bool = False) -> pw.Database:
    """A (not yet connected) peewee database for `url`: postgresql://... or sqlite:///path;
    `pooled` keeps PostgreSQL connections open between requests."""
    parsed = urlparse(url)
    if parsed.scheme in ("postgres", "postgresql"):
        kind, extra = (PooledPsycopg3Database, POOL) if pooled else (Psycopg3Database, {})
        return kind(
            (parsed.path or "/postgres").lstrip("/") or "postgres",
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or None,
            port=parsed.port or None,
            autoconnect=True,
            **extra,
        )
    if parsed.scheme == "sqlite":
        path = Path(unquote(parsed.path)) if parsed.netloc == "" else Path(parsed.netloc + parsed.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return pw.SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, timeout=10)
    raise DatabaseUrlError(f"DATABASE_URL must start with postgresql:// or sqlite:///, got {parsed.scheme!r}")


def open_database(url: str, pooled: bool = False) -> pw.Database:
    """Bind the shared proxy to the database at `url` (closing any earlier one and its pool)."""
    current = database.obj
    if isinstance(current, PooledDatabase):
        current.close_all()
    elif current is not None and not current.is_closed():
        current.close()
    db = database_from_url(url, pooled)
    database.initialize(db)
    return db


def is_postgres() -> bool:
    """True when the hub runs on PostgreSQL (full-text search and locks differ on SQLite)."""
    return isinstance(database.obj, pw.PostgresqlDatabase)


def locked(query):
    """`query` with FOR UPDATE on PostgreSQL; SQLite has no row locks (its writers take turns anyway)."""
    return query.for_update() if is_postgres() else query
