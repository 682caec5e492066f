"""`python -m appliance.sync push DIR --hub URL`: the digitisation team's path at a site without a box.

A folder of scans is read on this machine with the box's own pipeline (a local box state in
`--data-dir`, enrolled with the hub like a box), then pushed with the same signed batches.
Running it again on the same folder sends nothing twice: files already taken in are
duplicates, and documents already acknowledged are not in the outbox any more.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from appliance.box import open_box
from appliance.config import Config
from appliance.ingest.intake import accept_file
from appliance.ingest.runner import JobRunner
from appliance.models import Document, Quarantine, Scan

from . import state
from .agent import backoff_seconds, cycle
from .client import HubError
from .enrolment import enrol_box
from .push import backlog

ATTEMPTS = 8


def scan_files(folder: Path) -> list[Path]:
    """Every regular file below `folder`, in a stable order (scanner litter is refused by intake)."""
    return sorted(path for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def push_folder(
    config: Config,
    folder: Path,
    hub_url: str,
    token: str | None,
    name: str,
    report=print,
    insecure_http: bool = False,
) -> bool:
    """Take in, read and push every scan of `folder`; True when the hub has acknowledged everything."""
    open_box(config)
    if not state.enrolled(config):
        if not token:
            raise HubError(
                "this data folder is not enrolled yet: give --token (a one-time enrolment token)", retry=False
            )
        enrol_box(config, hub_url, token, name, insecure_http)
    outcomes = Counter(
        accept_file(path, config, source="push", remove=False, actor="push").outcome for path in scan_files(folder)
    )
    report(f"taken in: {dict(outcomes)}")
    runner = JobRunner(config)
    try:
        runner.start_pool()
        runner.run_until_idle()
    finally:
        runner.close()
    scans = Counter(Scan.select(Scan.status).scalars())
    documents = Counter(Document.select(Document.status).scalars())
    report(f"scans: {dict(scans)}; documents: {dict(documents)}")
    for entry in Quarantine.select().where(Quarantine.resolved_at.is_null()):
        report(f"quarantined: {entry.original_name}: {entry.reason}")
    for attempt in range(1, ATTEMPTS + 1):
        try:
            cycle(config)
        except HubError as error:
            if not error.retry or attempt == ATTEMPTS:
                raise
            wait = backoff_seconds(attempt, 60)
            report(f"hub not reachable ({error}); trying again in {wait:.0f} s")
            time.sleep(wait)
            continue
        if backlog() == 0:
            break
    left = backlog()
    report(f"waiting to send: {left}")
    return left == 0
