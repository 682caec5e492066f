"""Opening a box's state: folders, data key, database, migrations."""

from __future__ import annotations

from . import at_rest, data_key
from .config import Config
from .conversion import converting, finish_database
from .data_key import DataKey
from .db import open_database
from .migrations import migrate


class BoxLocked(RuntimeError):
    """The box encrypts its data and its key is not unsealed yet (no Tang, TPM or passphrase so far)."""


def box_key(config: Config, key: DataKey | None = None) -> DataKey | None:
    """The data key this process opens the box with: `key`, else the one unsealed since boot."""
    if not config.encryption:
        return None
    key = key or data_key.recall(config)
    if key is None:
        raise BoxLocked(
            "the box is locked: its data key is not unsealed (unlock it on the web page or with `keys unlock`)"
        )
    return key


def open_box(config: Config, key: DataKey | None = None) -> list[int]:
    """Create the data folders, open the database (with the data key when encrypted) and apply
    pending migrations; raises BoxLocked when the box encrypts and no key is at hand."""
    key = box_key(config, key)
    for folder in (
        config.data_dir,
        config.inbox,
        config.store_dir,
        config.thumbs_dir,
        config.tmp_dir,
        config.views_dir,
    ):
        folder.mkdir(parents=True, exist_ok=True)
    at_rest.use(key, accept_plain=converting(config))
    if key is None:
        return migrate(open_database(config.database_path))
    finish_database(config, key)
    return migrate(open_database(config.database_path, key.sqlcipher_keys, lambda: _reload(config)))


def _reload(config: Config) -> tuple[str, ...]:
    """The keys another process rotated to (recalled from the runtime folder); files follow them."""
    key = data_key.recall(config)
    if key is None:
        return ()
    at_rest.use(key, accept_plain=converting(config))
    return key.sqlcipher_keys
