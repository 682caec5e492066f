"""The hub's database: PostgreSQL from DATABASE_URL, or SQLite for the embedded default.

One late-bound proxy that every model uses; `open_database` points it at the configured
database. PostgreSQL is reached through psycopg 3.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import peewee as pw
from playhouse.postgres_ext import Psycopg3Database

database = pw.DatabaseProxy()

SQLITE_PRAGMAS = {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10_000, "synchronous": "full"}


class DatabaseUrlError(ValueError):
    """DATABASE_URL is not a PostgreSQL or SQLite URL the hub can use."""


def database_from_url(url: str) -> pw.Database:
    """A (not yet connected) peewee database for `url`: postgresql://... or sqlite:///path."""
    parsed = urlparse(url)
    if parsed.scheme in ("postgres", "postgresql"):
        return Psycopg3Database(
            (parsed.path or "/postgres").lstrip("/") or "postgres",
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or None, port=parsed.port or None,
            autoconnect=True,
        )
    if parsed.scheme == "sqlite":
        path = Path(unquote(parsed.path)) if parsed.netloc == "" else Path(parsed.netloc + parsed.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return pw.SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, timeout=10)
    raise DatabaseUrlError(f"DATABASE_URL must start with postgresql:// or sqlite:///, got {parsed.scheme!r}")


def open_database(url: str) -> pw.Database:
    """Bind the shared proxy to the database at `url` (closing any earlier one)."""
    current = database.obj
    if current is not None and not current.is_closed():
        current.close()
    db = database_from_url(url)
    database.initialize(db)
    return db


def is_postgres() -> bool:
    """True when the hub runs on PostgreSQL (full-text search and locks differ on SQLite)."""
    return isinstance(database.obj, pw.PostgresqlDatabase)


def locked(query):
    """`query` with FOR UPDATE on PostgreSQL; SQLite has no row locks (its writers take turns anyway)."""
    return query.for_update() if is_postgres() else query
