"""Backing up and restoring the box's database with SQLite's online backup (consistent while the
worker and the web UI keep running). On an encrypted box the backup is made through SQLCipher
with the data key, so the copy is encrypted page by page as it is written, like the database; it
opens only with the box's key. Originals and thumbnails (store/, thumbs/) are files of their own,
sealed on an encrypted box."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlcipher3

from .config import Config
from .db import DatabaseErrors, database


class BackupError(ValueError):
    """A backup file cannot be restored."""


def _connect(path, key: str | None, uri: bool = False):
    """A connection to a database file, through SQLCipher with `key` (a PRAGMA key value) when set."""
    if key is None:
        return sqlite3.connect(path, uri=uri)
    connection = sqlcipher3.connect(str(path), uri=uri)
    connection.execute(f'PRAGMA key = "{key}"')
    return connection


def backup_database(config: Config, target: Path) -> Path:
    """Copy the live database to `target` page by page; the copy is a complete database."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    source = _connect(config.database_path, database.key)
    try:
        copy = _connect(partial, database.key)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    os.replace(partial, target)
    return target


def restore_database(config: Config, source: Path, key: str | None = None) -> None:
    """Put a backup in place of the database (its -wal and -shm files go too); `key` opens the
    backup of an encrypted box (a backup made under another key does not restore)."""
    try:
        check = _connect(f"file:{source}?mode=ro", key, uri=True)
        try:
            if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{source} is damaged (integrity check failed)")
            check.execute("SELECT count(*) FROM document").fetchone()
        finally:
            check.close()
    except DatabaseErrors as error:
        raise BackupError(f"{source} is not a box database backup of this box: {error}") from None
    if not database.is_closed():
        database.close()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{config.database_path}{suffix}").unlink(missing_ok=True)
    partial = config.database_path.with_name(config.database_path.name + ".restoring")
    partial.write_bytes(source.read_bytes())
    os.replace(partial, config.database_path)
