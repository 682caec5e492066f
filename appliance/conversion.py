"""Turning a plain box into an encrypted one in place, online and resumable.

Once the data key is sealed, `start` leaves a marker in keys/ and the database is converted with
SQLCipher's `sqlcipher_export` into a new file, verified table by table, and swapped in; from then
on everything new is written sealed. The files written before (originals, thumbnails, page views,
the device key, the web secret) are sealed one by one in the background: each is sealed beside
itself, the sealed copy is decrypted and checked against the plain one's SHA-256, and only then
renamed over it, so a power cut or a SIGKILL at any moment leaves every file whole, plain or
sealed. Files not sealed yet are read as they are while the marker is there; the last file
sealed removes it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlcipher3

from core.files import fsync_dir, write_durably
from core.sealed_files import AGE_HEADER, Sealing

from .config import Config
from .data_files import box_files
from .data_key import DataKey

log = logging.getLogger(__name__)
SQLITE_HEADER = b"SQLite format 3\x00"
CONVERTING = "converting"  # in keys_dir while a plain box's files are being sealed


class ConversionError(RuntimeError):
    """The encrypted copy does not match the plain one; the plain one is kept."""


def converting(config: Config) -> bool:
    """True while the files of a box that was plain are still being sealed (some are plain)."""
    return (config.keys_dir / CONVERTING).exists()


def database_is_plain(config: Config) -> bool:
    try:
        with open(config.database_path, "rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except FileNotFoundError:
        return False


def _counts(connection, tables: list[str]) -> dict[str, int]:
    return {table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}


def encrypt_database(config: Config, key: DataKey) -> None:
    """Export the plain database into an encrypted copy, verify it, and swap it in.

    Run with nothing else writing to the database (`start` and `open_box` hold the conversion
    lock; the services are stopped while `init` converts).
    """
    path = config.database_path
    partial = path.with_name(f"{path.name}.encrypting")
    partial.unlink(missing_ok=True)
    plain = sqlite3.connect(path)
    try:
        plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tables = [row[0] for row in plain.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        expected = _counts(plain, tables)
        version = plain.execute("PRAGMA user_version").fetchone()[0]
    finally:
        plain.close()
    exporter = sqlcipher3.connect(str(path))
    try:
        exporter.execute(f'ATTACH DATABASE ? AS encrypted KEY "{key.sqlcipher_key}"', (str(partial),))
        exporter.execute("SELECT sqlcipher_export('encrypted')")
        exporter.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        exporter.execute("DETACH DATABASE encrypted")
    finally:
        exporter.close()
    check = sqlcipher3.connect(str(partial))
    try:
        check.execute(f'PRAGMA key = "{key.sqlcipher_key}"')
        if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok" or _counts(check, tables) != expected:
            raise ConversionError("the encrypted copy of the database does not match it; the plain one is kept")
    finally:
        check.close()
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    for suffix in ("-wal", "-shm"):  # the plain database's, emptied by the checkpoint above
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.replace(partial, path)
    fsync_dir(path.parent)
    log.info("database converted to SQLCipher (%d tables verified)", len(tables))


class _ConversionLock:
    """One process at a time converts the database (several services may start at once)."""

    def __init__(self, config: Config):
        config.keys_dir.mkdir(parents=True, exist_ok=True)
        self.path = config.keys_dir / "conversion.lock"

    def __enter__(self):
        self.handle = open(self.path, "a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
        return False


def start(config: Config, key: DataKey) -> None:
    """Begin converting a plain box whose data key is sealed: the marker, then the database."""
    if not (config.keys_dir / CONVERTING).exists():
        write_durably(config.keys_dir / CONVERTING, b"", mode=0o600)
    finish_database(config, key)


def finish_database(config: Config, key: DataKey) -> None:
    """Convert the database if a conversion was begun and it is still plain (after a power cut
    in the middle, whichever process starts first picks it up)."""
    if not converting(config):
        return
    with _ConversionLock(config):
        if database_is_plain(config):
            encrypt_database(config, key)


def _is_sealed(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(AGE_HEADER)) == AGE_HEADER


def plain_files(config: Config) -> Iterator[Path]:
    """Files of the box that are still plain."""
    for path in box_files(config):
        try:
            if not _is_sealed(path):
                yield path
        except FileNotFoundError:
            continue


def seal_in_place(path: Path, sealing: Sealing) -> bool:
    """Seal one plain file over itself once the sealed copy is checked; False when it is gone."""
    try:
        sealing.rewrite(path, path.read_bytes())
    except FileNotFoundError:
        return False
    return True


def convert_files(config: Config, sealing: Sealing, stop: threading.Event | None = None) -> int:
    """Seal every plain file left; how many were sealed now. Removes the marker when none is left."""
    if not converting(config):
        return 0
    sealed = 0
    for path in plain_files(config):
        if stop is not None and stop.is_set():
            return sealed
        sealed += seal_in_place(path, sealing)
    if not any(plain_files(config)):
        (config.keys_dir / CONVERTING).unlink(missing_ok=True)
        log.info("conversion finished: every file of the box is sealed (%d sealed in this run)", sealed)
    return sealed
