"""The OCR pool and the durable job loop that feeds it.

Jobs are rows in SQLite. The runner claims a job, asks a pool process to inspect the scan,
then fans its pages out across the pool (one process per core), and records the outcome in
one transaction. Jobs left `running` by a worker that died are picked up again; a scan that
keeps killing the pool is quarantined after `job_attempts` tries instead of blocking the queue.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import multiprocessing
import os
import socket
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from core.ingest.pages import (
    TESSERACT_MISSING,
    PageResult,
    PageSettings,
    TesseractMissing,
    init_process,
    inspect_scan,
    process_page,
    tesseract_version,
)
from core.ingest.rasterize import Inspection, Limits, Rejected

from .. import at_rest
from ..config import Config
from ..db import database
from ..doc_types import type_rules
from ..models import Job, Scan, utcnow
from .intake import store_path
from .recording import quarantine_scan, record_scan

log = logging.getLogger(__name__)
PAGE_MODULE = "core.ingest.pages"
HEARTBEAT_SECONDS = 15
STALE_AFTER = dt.timedelta(seconds=120)


class FatalEnvironmentError(RuntimeError):
    """The box itself cannot process anything (Tesseract missing, disk full): stop, do not quarantine."""


@dataclass
class ActiveJob:
    job_id: int
    scan: Scan
    path: str
    inspection: Inspection | None = None
    next_index: int = 0
    results: dict[int, PageResult] = field(default_factory=dict)
    futures: set = field(default_factory=set)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobRunner:
    """Claims durable jobs and drives them through the OCR pool."""

    def __init__(self, config: Config):
        self.config = config
        type_rules(config)  # a document-types file that cannot be read stops the worker at start
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.limits = Limits(config.max_pages, config.max_page_pixels, config.max_file_bytes)
        self.settings = PageSettings(
            limits=self.limits,
            budget=config.render_budget,
            language=config.ocr_language,
            timeout=config.page_timeout_seconds,
            data_dir=str(config.data_dir),
            sealing=at_rest.sealing(),
        )
        self.capacity = config.ocr_processes * 2
        self.active: dict[int, ActiveJob] = {}
        self.tasks: dict[Future, tuple[ActiveJob, int | None]] = {}
        self.last_heartbeat = utcnow()
        self.executor = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([PAGE_MODULE])
        # Each page is rendered in a child of its pool process, within the render budget (pdfium
        # cannot be interrupted from inside); the pool process itself, and the Tesseract it runs,
        # get the same address-space limit for the rest of the page's work.
        return ProcessPoolExecutor(
            max_workers=self.config.ocr_processes,
            mp_context=context,
            initializer=init_process,
            initargs=(self.config.render_memory_mb,),
        )

    def start_pool(self) -> str:
        """Start every OCR process now, not on the first scan; return Tesseract's version.

        A box that has just booted then reads its first scan at full speed, and a missing
        Tesseract is reported at start-up rather than when a scan arrives.
        """
        futures = [self.executor.submit(tesseract_version) for _ in range(self.config.ocr_processes)]
        try:
            versions = [future.result() for future in futures]
        except TesseractMissing as error:
            raise FatalEnvironmentError(TESSERACT_MISSING) from error
        return versions[0]

    def close(self):
        """Stop the pool and hand unfinished jobs back to the queue."""
        self.executor.shutdown(wait=True, cancel_futures=True)
        for active in list(self.active.values()):
            self._release(active, error=None)

    # -- claiming ---------------------------------------------------------------------------

    def recover(self) -> int:
        """Put back jobs whose worker is gone (dead process or no heartbeat); return how many.

        The try is not counted against the scan: the worker died (a power cut, a SIGKILL), not
        the OCR process reading it, so a box that loses power often never quarantines good files.
        """
        host = socket.gethostname()
        recovered = 0
        for job in list(Job.select().where(Job.state == "running")):
            owner_host, _, rest = (job.owner or "").partition(":")
            pid = int(rest.split(":")[0]) if rest.split(":")[0].isdigit() else 0
            stale = job.claimed_at is None or utcnow() - job.claimed_at > STALE_AFTER
            dead = owner_host == host and not _pid_alive(pid)
            if dead or stale:
                recovered += (
                    Job.update(state="pending", owner=None, attempts=Job.attempts - 1)
                    .where((Job.id == job.id) & (Job.state == "running"))
                    .execute()
                )
        if recovered:
            log.info("recovered %d interrupted job(s)", recovered)
        return recovered

    def _claim(self, scan_ids: set[int] | None) -> ActiveJob | None:
        query = Job.select(Job.id).where(Job.state == "pending").order_by(Job.id)
        if scan_ids is not None:
            query = query.where(Job.scan.in_(list(scan_ids)))
        # Read the candidates to the end first: a write begun while this connection still holds
        # an open read is refused at once ("database is locked", no busy wait) as soon as another
        # process (the web app taking uploads) has committed since the read began.
        for job_id in list(query.limit(20).scalars()):
            with database.atomic("IMMEDIATE"):
                claimed = (
                    Job.update(state="running", owner=self.owner, claimed_at=utcnow(), attempts=Job.attempts + 1)
                    .where((Job.id == job_id) & (Job.state == "pending"))
                    .execute()
                )
                if not claimed:
                    continue
                job = Job.get_by_id(job_id)
                scan = Scan.get_by_id(job.scan_id)
                Scan.update(status="processing").where(Scan.id == scan.id).execute()
            if job.attempts > self.config.job_attempts:
                quarantine_scan(scan, f"processing failed {job.attempts - 1} times", job.last_error)
                continue
            return ActiveJob(job_id=job_id, scan=scan, path=str(store_path(self.config, scan.sha256)))
        return None

    def _release(self, active: ActiveJob, error: str | None):
        for future in active.futures:
            future.cancel()
            self.tasks.pop(future, None)
        self.active.pop(active.job_id, None)
        with database.atomic():
            Job.update(state="pending", owner=None, last_error=error).where(Job.id == active.job_id).execute()
            Scan.update(status="pending").where(Scan.id == active.scan.id).execute()

    # -- the loop ---------------------------------------------------------------------------

    def _in_flight(self) -> int:
        return len(self.tasks)

    def _submit(self, active: ActiveJob, index: int | None):
        if index is None:
            future = self.executor.submit(
                inspect_scan,
                active.path,
                active.scan.original_name,
                self.limits,
                self.config.render_budget,
                self.settings.sealing,
            )
        else:
            future = self.executor.submit(
                process_page, active.path, active.scan.sha256, active.inspection.kind, index, self.settings
            )
        active.futures.add(future)
        self.tasks[future] = (active, index)

    def _fill(self, scan_ids: set[int] | None):
        for active in list(self.active.values()):
            while (
                active.inspection
                and active.next_index < active.inspection.page_count
                and self._in_flight() < self.capacity
            ):
                self._submit(active, active.next_index)
                active.next_index += 1
        # One job more than processes, so the pool never idles while a finished job is recorded.
        while self._in_flight() < self.capacity and len(self.active) <= self.config.ocr_processes:
            active = self._claim(scan_ids)
            if active is None:
                break
            self.active[active.job_id] = active
            self._submit(active, None)

    def _finish(self, active: ActiveJob):
        self.active.pop(active.job_id, None)
        record_scan(active.scan, list(active.results.values()), self.config, type_rules(self.config))

    def _fail(self, active: ActiveJob, error: BaseException):
        if isinstance(error, TesseractMissing):
            raise FatalEnvironmentError(TESSERACT_MISSING) from error
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            raise FatalEnvironmentError("the data disk is full; ingest stopped until space is freed") from error
        if isinstance(error, Rejected):
            self._drop(active)
            quarantine_scan(active.scan, error.reason)
            return
        message = f"{type(error).__name__}: {error}"
        attempts = Job.get_by_id(active.job_id).attempts
        log.error("scan %s failed (attempt %s): %s", active.scan.id, attempts, message)
        if attempts >= self.config.job_attempts:
            self._drop(active)
            quarantine_scan(active.scan, f"processing failed {attempts} times", message)
        else:
            self._release(active, message)

    def _drop(self, active: ActiveJob):
        for future in active.futures:
            future.cancel()
            self.tasks.pop(future, None)
        self.active.pop(active.job_id, None)

    def _pool_died(self):
        log.error("an OCR process died; restarting the pool and retrying its scans")
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._new_pool()
        for active in list(self.active.values()):
            self._release(active, "an OCR process died while reading this scan")
        self.tasks.clear()

    def _heartbeat(self):
        if utcnow() - self.last_heartbeat < dt.timedelta(seconds=HEARTBEAT_SECONDS) or not self.active:
            return
        self.last_heartbeat = utcnow()
        Job.update(claimed_at=self.last_heartbeat).where(Job.id.in_(list(self.active))).execute()

    def step(self, timeout: float = 0.5, scan_ids: set[int] | None = None) -> bool:
        """Claim and submit work, then handle whatever finishes within `timeout`; True if busy."""
        self._fill(scan_ids)
        if not self.tasks:
            return False
        done, _ = wait(list(self.tasks), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            if future not in self.tasks:
                continue
            active, index = self.tasks.pop(future)
            active.futures.discard(future)
            if future.cancelled() or active.job_id not in self.active:
                continue
            error = future.exception()
            if isinstance(error, BrokenProcessPool):
                self._pool_died()
                return True
            if error is not None:
                self._fail(active, error)
                continue
            self._advance(active, index, future.result())
        self._heartbeat()
        return True

    def _advance(self, active: ActiveJob, index: int | None, result):
        if index is None:
            active.inspection = result
            Job.update(pages_total=result.page_count).where(Job.id == active.job_id).execute()
            return
        active.results[index] = result
        Job.update(pages_done=len(active.results)).where(Job.id == active.job_id).execute()
        if len(active.results) == active.inspection.page_count:
            self._finish(active)

    def run_until_idle(self, scan_ids: set[int] | None = None):
        """Process jobs (only those of `scan_ids` when given) until none are left to do."""
        while self.step(timeout=0.5, scan_ids=scan_ids) or self.active:
            pass
