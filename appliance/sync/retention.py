"""Local retention: originals the hub has confirmed may leave the box after a while.

With APPLIANCE_RETENTION_DAYS > 0, an original is evicted from the store when it was received
more than that many days ago and every document cut from it has been acknowledged by the hub
(no outbox row pending or set aside). Text, thumbnails and page images stay; the original is
fetched back from the hub when someone asks for it. Quarantined and unsynced originals are
never evicted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from appliance import at_rest
from appliance.config import Config
from appliance.ingest.intake import store_path
from appliance.models import Document, Outbox, Scan, utcnow

from .client import HubClient, HubError, NotEnrolled, client_for


class OriginalUnavailable(Exception):
    """The original was evicted and the hub cannot be reached (or no longer has it)."""


def _confirmed(scan: Scan) -> bool:
    uids = list(Document.select(Document.uid).where(Document.scan == scan).scalars())
    if not uids:
        return False
    unconfirmed = Outbox.select().where(
        (Outbox.kind == "document")
        & Outbox.object_key.in_(uids)
        & (Outbox.synced_at.is_null() | Outbox.set_aside_at.is_null(False))
    )
    return not unconfirmed.exists()


def evict_confirmed_originals(config: Config) -> int:
    """Remove originals past retention that the hub has confirmed; how many were removed."""
    if config.retention_days <= 0:
        return 0
    cutoff = utcnow() - dt.timedelta(days=config.retention_days)
    evicted = 0
    due = Scan.select().where((Scan.status == "processed") & Scan.evicted_at.is_null() & (Scan.received_at < cutoff))
    for scan in list(due):  # read to the end before writing (see JobRunner._claim)
        if not _confirmed(scan):
            continue
        Scan.update(evicted_at=utcnow()).where(Scan.sha256 == scan.sha256).execute()
        store_path(config, scan.sha256).unlink(missing_ok=True)
        evicted += 1
    return evicted


def fetch_original(config: Config, client: HubClient, scan: Scan) -> Path:
    """Bring an evicted original back from the hub into the store (hash checked); its path."""
    path = store_path(config, scan.sha256)
    if path.exists():
        return path
    try:
        response = client.download(f"/api/v1/sync/blobs/{scan.sha256}/content")
    except HubError as error:
        raise OriginalUnavailable(str(error)) from None
    if hashlib.sha256(response).hexdigest() != scan.sha256:
        raise OriginalUnavailable("the hub sent bytes that do not match the original's SHA-256")
    at_rest.sealing().write(path, response, mode=0o644)
    Scan.update(evicted_at=None).where(Scan.sha256 == scan.sha256).execute()
    return path


def original_path(config: Config, scan: Scan) -> Path:
    """Where the scan's original is on the box, fetching it back from the hub if it was evicted."""
    path = store_path(config, scan.sha256)
    if path.exists():
        return path
    if scan.evicted_at is None:
        raise OriginalUnavailable("the original is missing from the box's store")
    try:
        client = client_for(config)
    except NotEnrolled as error:
        raise OriginalUnavailable(str(error)) from None
    return fetch_original(config, client, scan)
