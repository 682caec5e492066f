"""`keys rotate`: re-encrypt the box under a new data key while the web UI keeps searching.

1. A new key is made that still knows the old one (its database key as `previous_database`,
   its file identity after the new one), sealed (Clevis pins, passphrase) and remembered, so
   every process, and a box restarted at any moment, opens both old and new data.
2. The database is rekeyed in place (SQLCipher's PRAGMA rekey: a fraction of a second for tens of
   thousands of pages; web requests wait on the lock, then reconnect with the new key).
3. Every file is sealed again to the new key, one at a time, each checked before it replaces the
   old one (resumable: a file that already opens with the new key alone is skipped).
4. The final key, without the old parts, is sealed and remembered.

The worker and the sync agent hold a database connection for hours; stop them for the rotation
(scans wait in the inbox) and start them after, as docs/operations.md says.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from pathlib import Path

import pyrage

from core.sealed_files import Sealing

from . import at_rest
from .config import Config
from .data_files import box_files
from .data_key import DataKey, remember
from .db import database

log = logging.getLogger(__name__)


def transition_key(current: DataKey) -> DataKey:
    """The key during the rotation: new database key and file identity, the old ones still known."""
    if current.previous_database is not None:
        return current  # a rotation cut short: carry on with the key it had made
    return DataKey(
        database=secrets.token_bytes(32),
        files=(str(pyrage.x25519.Identity.generate()), *current.files),
        previous_database=current.database,
    )


def final_key(key: DataKey) -> DataKey:
    return DataKey(database=key.database, files=key.files[:1])


def _opens_with(path: Path, identity: str) -> bool:
    try:
        pyrage.decrypt(path.read_bytes(), [pyrage.x25519.Identity.from_str(identity)])
    except pyrage.DecryptError:
        return False
    return True


def reseal_files(config: Config, key: DataKey) -> int:
    """Seal again, to `key`'s first identity, every file that does not open with it alone."""
    sealing = Sealing(key.recipient, key.files)
    resealed = 0
    for path in box_files(config):
        try:
            if _opens_with(path, key.files[0]):
                continue
            sealing.rewrite(path, sealing.read(path))
        except FileNotFoundError:
            continue
        resealed += 1
    return resealed


def rotate(config: Config, current: DataKey, seal: Callable[[DataKey], None]) -> DataKey:
    """Rotate the box (opened with `current`) to a new data key; `seal` writes a key's sealed
    copies (Clevis, passphrase). Returns the new key."""
    key = transition_key(current)
    seal(key)
    remember(config, key)
    database.connect(reuse_if_open=True)
    database.execute_sql(f'PRAGMA rekey = "{key.sqlcipher_key}"')
    database.keys = key.sqlcipher_keys
    at_rest.use(key)
    log.info("database rekeyed; sealing the files again")
    resealed = reseal_files(config, key)
    done = final_key(key)
    seal(done)
    remember(config, done)
    database.keys = done.sqlcipher_keys
    at_rest.use(done)
    log.info("key rotation finished (%d files sealed again)", resealed)
    return done
