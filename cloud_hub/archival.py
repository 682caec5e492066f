"""Archival lifecycle: blobs older than HUB_ARCHIVE_AFTER_DAYS move to a colder S3 storage class.

The default class, STANDARD_IA, is cheaper to keep and still readable at once (presigned
downloads keep working). The local volume of the embedded default has no classes; there the
job does nothing.
"""

from __future__ import annotations

import datetime as dt

from .models import Blob, utcnow
from .storage import S3Storage, Storage

BATCH = 500


def archive_old_blobs(storage: Storage, after_days: int, storage_class: str) -> int:
    """Move every blob stored more than `after_days` ago and not yet archived; how many moved."""
    if not isinstance(storage, S3Storage):
        return 0
    cutoff = utcnow() - dt.timedelta(days=after_days)
    moved = 0
    while True:
        due = list(
            Blob.select().where((Blob.created_at < cutoff) & Blob.archived_at.is_null()).order_by(Blob.id).limit(BATCH)
        )
        if not due:
            return moved
        for blob in due:
            storage.archive(blob.storage_key, storage_class)
            Blob.update(archived_at=utcnow()).where(Blob.id == blob.id).execute()
            moved += 1
