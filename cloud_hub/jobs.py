"""Hub jobs: run by the RQ worker on Redis (`python -m cloud_hub worker`), or in-process when the
hub runs on the embedded default without REDIS_URL. Redis only carries the queue; every job's
result is written to the database.

The worker opens the hub once (from the same environment as the web processes) and runs jobs
in its own process (RQ's SimpleWorker), so a job never inherits a forked database connection.
"""

from __future__ import annotations

import datetime as dt

import redis
from rq import Queue, SimpleWorker

from . import uploads
from .archival import archive_old_blobs
from .billing import invoice, snapshot_storage
from .config import HubConfig
from .db import database
from .hub import open_hub
from .storage import storage_for
from .view_cache import prune_views

QUEUE = "digifort-hub"


def rollup_job(day_iso: str | None = None) -> int:
    """Record every organisation's stored bytes for the day (default today)."""
    with database.connection_context():
        return snapshot_storage(dt.date.fromisoformat(day_iso) if day_iso else None)


def invoice_job(organisation_id: int, month: str) -> int:
    """Make (once) an organisation's invoice for a month; its id."""
    with database.connection_context():
        return invoice(organisation_id, month).id


def ocr_upload_job(upload_id: int) -> str:
    """Read a file uploaded at the hub with the box's pipeline and file it; its final status."""
    config = HubConfig.from_env()
    with database.connection_context():
        return uploads.process(config, storage_for(config), upload_id)


def archive_job() -> str:
    """Move old blobs to the colder storage class and remove expired page images; how many of each."""
    config = HubConfig.from_env()
    with database.connection_context():
        moved = archive_old_blobs(storage_for(config), config.archive_after_days, config.archive_storage_class)
    return f"{moved} blob(s) archived, {prune_views(config)} expired page image(s) removed"


def enqueue(config: HubConfig, func, *args) -> str:
    """Queue `func(*args)` on RQ, or run it now without Redis; a line saying which."""
    if config.redis_url:
        job = Queue(QUEUE, connection=redis.Redis.from_url(config.redis_url)).enqueue(func, *args, job_timeout=3600)
        return f"queued as job {job.id}"
    return f"done in-process (no REDIS_URL): {func(*args)}"


def run_worker(config: HubConfig, burst: bool = False) -> None:
    """Work the hub's queue until stopped (or, with `burst`, until it is empty)."""
    if not config.redis_url:
        raise SystemExit("the hub worker needs REDIS_URL; without it jobs run inside the process that asks")
    open_hub(config)
    database.close()
    connection = redis.Redis.from_url(config.redis_url)
    SimpleWorker([Queue(QUEUE, connection=connection)], connection=connection).work(burst=burst)
