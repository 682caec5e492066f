"""Opening a box's state: folders, database, migrations."""

from __future__ import annotations

from .config import Config
from .db import open_database
from .migrations import migrate


def open_box(config: Config) -> list[int]:
    """Create the data folders, open the database and apply pending migrations."""
    for folder in (
        config.data_dir,
        config.inbox,
        config.store_dir,
        config.thumbs_dir,
        config.tmp_dir,
        config.views_dir,
    ):
        folder.mkdir(parents=True, exist_ok=True)
    db = open_database(config.database_path)
    return migrate(db)
