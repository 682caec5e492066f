"""Opening the hub's state: folders, database, migrations, blob storage."""

from __future__ import annotations

from .config import HubConfig
from .db import open_database
from .migrations import migrate
from .storage import S3Storage, Storage, storage_for


def open_hub(config: HubConfig, pooled: bool = False) -> list[int]:
    """Create the data folders, open the database (`pooled`: for the web app) and apply pending
    migrations."""
    for folder in (config.data_dir, config.staging_dir):
        folder.mkdir(parents=True, exist_ok=True)
    open_database(config.effective_database_url, pooled)
    return migrate()


def prepare_storage(config: HubConfig) -> Storage:
    """The blob storage, with its bucket created when S3 is configured and the bucket is missing."""
    storage = storage_for(config)
    if isinstance(storage, S3Storage):
        storage.ensure_bucket()
    return storage
