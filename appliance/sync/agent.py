"""The sync agent: `once` runs one full cycle; `agent` keeps running it under APScheduler.

The scheduler only decides when; `cycle` does the work. After a failure that may pass (hub
down, timeouts, 5xx) the next cycle waits with capped exponential backoff and jitter, while a
cheap probe of the hub's clock every few seconds starts a cycle at once when the link is back.
A "sync now" request from the box UI (a flag in the sync state) also starts one at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import signal
import threading
import time
from dataclasses import dataclass

import requests
from apscheduler.schedulers.blocking import BlockingScheduler

from appliance.box import open_box
from appliance.config import Config
from appliance.db import database
from appliance.unlock import open_unlocked, try_unlock, wait_for_key

from . import state
from .client import HubError, NotEnrolled, client_for
from .limits import parse_window
from .pull import pull, settings_overrides
from .push import PushResult, Rules, backlog, push
from .retention import evict_confirmed_originals

log = logging.getLogger(__name__)
PROBE_SECONDS = 5.0
# The proxy in front of the hub answers for it while the hub itself is down: probe, as for a
# lost connection, rather than wait out the backoff.
GATEWAY_DOWN = (502, 503, 504)


def cycle(config: Config, max_batches: int | None = None, ignore_window: bool = False) -> PushResult:
    """One sync cycle: head office's changes first (pull), then the box's (push); records the
    outcome (last success or last error) in the sync state. Settings from head office override
    the box's own for this and later cycles.

    `ignore_window`: originals travel even outside the bulk window ("Sync now" from the box UI).
    """
    state.put(state.LAST_ATTEMPT, state.now_iso())
    client = client_for(config)
    pull_failure = None
    try:
        try:
            changes = pull(client)
        except HubError:
            raise
        except Exception as error:
            pull_failure, changes = error, 0
            log.error(
                "a change from head office could not be applied (%s); the box's own changes still go",
                type(error).__name__,
            )
        config = config.with_overrides(**settings_overrides())
        result = push(client, config, max_batches, Rules.for_now(config, ignore_window))
        if pull_failure is not None:
            raise pull_failure
    except HubError as error:
        state.put(state.LAST_ERROR, f"{state.now_iso()} {error}")
        raise
    except Exception as error:
        state.put(state.LAST_ERROR, f"{state.now_iso()} {type(error).__name__}: {error}")
        raise
    state.put(state.LAST_SUCCESS, state.now_iso())
    if changes:
        log.info("sync: %d change(s) from head office applied", changes)
    evicted = evict_confirmed_originals(config)
    if evicted:
        log.info("retention: %d original(s) confirmed by the hub removed from the box", evicted)
    log.info(
        "sync: %d item(s) acknowledged, %d set aside, %d waiting, %d held for the window, %d blob(s) sent, %d bytes",
        result.synced,
        result.set_aside,
        result.waiting,
        result.held_for_window,
        result.blobs_sent,
        result.bytes_sent,
    )
    return result


def run_once(config: Config, max_batches: int | None = None) -> bool:
    """`python -m appliance.sync once`: one cycle; True when the backlog is drained (BoxLocked if locked)."""
    open_unlocked(config)
    cycle(config, max_batches)
    return backlog() == 0


def backoff_seconds(failures: int, cap: float) -> float:
    """Capped exponential backoff with full jitter: uniform in [0, min(cap, 2^failures)]."""
    return random.uniform(0, min(cap, 2.0 ** min(failures, 64)))


@dataclass
class AgentState:
    failures: int = 0
    next_due: float = 0.0
    unreachable: bool = False

    def succeeded(self, interval: float) -> None:
        self.failures, self.unreachable = 0, False
        self.next_due = time.monotonic() + interval

    def failed(self, error: Exception, max_backoff: float) -> float:
        """Count a failed cycle; the seconds until the next one unless the hub answers a probe
        sooner (probed when it could not be reached, or its proxy answered for it)."""
        self.failures += 1
        status = getattr(error, "status", "not a hub error")
        self.unreachable = isinstance(error, HubError) and (status is None or status in GATEWAY_DOWN)
        wait = backoff_seconds(self.failures, max_backoff)
        self.next_due = time.monotonic() + wait
        return wait


def run_agent(config: Config, stop: threading.Event | None = None) -> None:
    """`python -m appliance.sync agent`: run cycles until stopped."""
    parse_window(config.sync_blob_window)
    stop = stop or threading.Event()
    key = None
    if config.encryption:
        key = try_unlock(config)
        if key is None:
            log.warning("box is locked: nothing is synced until it is unlocked")
            if threading.current_thread() is threading.main_thread():
                for signum in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(signum, lambda *_: stop.set())
            key = wait_for_key(config, stop)
            if key is None:
                return
    open_box(config, key)
    agent = AgentState()
    scheduler = BlockingScheduler()

    def tick():
        if stop.is_set():
            scheduler.shutdown(wait=False)
            return
        now = time.monotonic()
        asked = state.get(state.SYNC_NOW, False)
        if asked:
            state.put(state.SYNC_NOW, False)
        if not asked and now < agent.next_due and not (agent.unreachable and _hub_answers(config)):
            return
        try:
            cycle(config, ignore_window=asked)
            agent.succeeded(config.sync_interval_seconds)
        except HubError as error:
            wait = agent.failed(error, config.sync_max_backoff_seconds)
            log.warning("sync failed (%s); next try in %.0f s unless the hub answers sooner", error, wait)
        except NotEnrolled as error:
            log.error("%s", error)
            agent.next_due = time.monotonic() + config.sync_interval_seconds
        except Exception as error:
            wait = agent.failed(error, config.sync_max_backoff_seconds)
            log.exception("sync cycle failed; next try in %.0f s", wait)
        finally:
            database.close()

    scheduler.add_job(
        tick,
        "interval",
        seconds=min(PROBE_SECONDS, config.sync_interval_seconds),
        max_instances=1,
        coalesce=True,
        next_run_time=dt.datetime.now(),
    )

    def on_signal(*_):
        stop.set()
        scheduler.shutdown(wait=False)

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, on_signal)
    log.info(
        "sync agent running (every %.0f s, backoff up to %.0f s)",
        config.sync_interval_seconds,
        config.sync_max_backoff_seconds,
    )
    scheduler.start()


def _hub_answers(config: Config) -> bool:
    """A cheap probe after the hub was unreachable: does it answer its clock again?"""
    hub_url = state.get(state.HUB_URL)
    if hub_url is None:
        return False
    try:
        return requests.get(hub_url.rstrip("/") + "/api/v1/sync/time", timeout=5).ok
    except requests.RequestException:
        return False
