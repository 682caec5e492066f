"""Backing up and restoring the box's database with SQLite's online backup (consistent while the
worker and the web UI keep running). Originals and thumbnails are plain files (store/, thumbs/)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .config import Config
from .db import database


class BackupError(ValueError):
    """A backup file cannot be restored."""


def backup_database(config: Config, target: Path) -> Path:
    """Copy the live database to `target` page by page; the copy is a complete database."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(config.database_path)
    try:
        with sqlite3.connect(partial) as copy:
            source.backup(copy)
    finally:
        source.close()
    os.replace(partial, target)
    return target


def restore_database(config: Config, source: Path) -> None:
    """Put a backup in place of the database (its -wal and -shm files go too)."""
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as check:
            if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{source} is damaged (integrity check failed)")
            check.execute("SELECT count(*) FROM document").fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{source} is not a box database backup: {error}") from None
    if not database.is_closed():
        database.close()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{config.database_path}{suffix}").unlink(missing_ok=True)
    partial = config.database_path.with_name(config.database_path.name + ".restoring")
    partial.write_bytes(source.read_bytes())
    os.replace(partial, config.database_path)
