"""The box's `worker` process: watch the inbox, take files in, run the OCR jobs."""

from __future__ import annotations

import logging
import signal
import threading
import time

from .. import at_rest
from ..box import open_box
from ..config import Config
from ..conversion import convert_files, converting
from ..status import disk_low
from ..trash import purge_expired
from ..unlock import try_unlock, wait_for_key
from .intake import FileChanging, accept_file
from .runner import JobRunner
from .watcher import InboxWatcher

log = logging.getLogger(__name__)
DISK_WARNING_SECONDS = 60
TRASH_PURGE_SECONDS = 3600
_last_disk_warning = -DISK_WARNING_SECONDS


def take_in_ready_files(watcher: InboxWatcher, config: Config) -> int:
    """Take every stable file from the inbox into the store; return how many were taken.

    With the data disk nearly full nothing is taken in: the files wait in the inbox, whole,
    until space is freed, instead of half-written copies and failed transactions.
    """
    if disk_low(config):
        global _last_disk_warning
        if time.monotonic() - _last_disk_warning > DISK_WARNING_SECONDS:
            _last_disk_warning = time.monotonic()
            log.error(
                "data disk nearly full (under %d MB free): scans wait in the inbox until space is freed",
                config.min_free_mb,
            )
        return 0
    taken = 0
    for path in watcher.ready():
        try:
            accept_file(path, config)
            taken += 1
        except FileChanging:
            watcher.retry_later(path)
        except PermissionError:
            log.error("cannot read an inbox file (permission denied); it stays in the inbox")
    return taken


def purge_trash_when_due(config: Config, due: float) -> float:
    """Purge what has been in the trash longer than APPLIANCE_TRASH_DAYS when `due` (a monotonic
    time) has come; the next time it is due."""
    if time.monotonic() < due:
        return due
    try:
        purged = purge_expired(config)
        if purged:
            log.info("trash: %d item(s) past %d day(s) deleted for good", purged, config.trash_days)
    except Exception:
        log.exception("purging the trash failed; it is tried again in an hour")
    return time.monotonic() + TRASH_PURGE_SECONDS


def run_worker(config: Config, stop: threading.Event | None = None):
    """Run until SIGTERM/SIGINT (or `stop` is set).

    On a locked box (encryption on, no pin answered) nothing is taken in until it is unlocked:
    scans wait whole in the inbox, where the scanner put them.
    """
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    key = None
    if config.encryption:
        key = try_unlock(config)
        if key is None:
            log.warning("box is locked: scans wait in the inbox until it is unlocked (web page or keys unlock)")
            key = wait_for_key(config, stop)
            if key is None:
                return
    open_box(config, key)
    for leftover in config.tmp_dir.glob("intake-*.part"):
        leftover.unlink(missing_ok=True)
    converter = _start_conversion(config, stop)
    runner = JobRunner(config)
    runner.recover()
    try:
        version = runner.start_pool()
    except BaseException:
        runner.close()
        raise
    watcher = InboxWatcher(config)
    watcher.start()
    log.info("worker watching the inbox with %d OCR process(es), Tesseract %s", config.ocr_processes, version)
    purge_due = 0.0
    try:
        while not stop.is_set():
            take_in_ready_files(watcher, config)
            purge_due = purge_trash_when_due(config, purge_due)
            if not runner.step(timeout=0.5):
                stop.wait(0.5)
    finally:
        watcher.stop()
        runner.close()
        if converter is not None:
            converter.join()
        log.info("worker stopped")


def _start_conversion(config: Config, stop: threading.Event) -> threading.Thread | None:
    """On a box converted from plain, seal the files it wrote before, beside the normal work."""
    if not converting(config):
        return None

    def convert():
        try:
            convert_files(config, at_rest.sealing(), stop)
        except Exception:
            log.exception("sealing the files of the converted box stopped; it starts again with the worker")

    thread = threading.Thread(target=convert, name="conversion", daemon=True)
    thread.start()
    log.info("sealing the files this box wrote before it was encrypted, in the background")
    return thread
