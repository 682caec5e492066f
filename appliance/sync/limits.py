"""When and how fast originals may travel: the bulk window and the bandwidth cap.

Metadata (batches) goes any time; originals (blobs) only inside APPLIANCE_SYNC_BLOB_WINDOW,
e.g. "19:00-07:00" (box local time; a window may cross midnight; empty means always), and
never faster than APPLIANCE_SYNC_BANDWIDTH_BYTES per second (0: no cap).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

from appliance.config import ConfigError

WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_window(text: str) -> tuple[dt.time, dt.time] | None:
    """(start, end) of a daily window, or None for "always"; ConfigError when unreadable."""
    if not text.strip():
        return None
    match = WINDOW_RE.match(text)
    if not match:
        raise ConfigError(f"APPLIANCE_SYNC_BLOB_WINDOW must look like 19:00-07:00, got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ConfigError(f"APPLIANCE_SYNC_BLOB_WINDOW has an impossible time: {text!r}")
    return dt.time(h1, m1), dt.time(h2, m2)


def in_window(window: tuple[dt.time, dt.time] | None, now: dt.time) -> bool:
    """True when `now` falls inside the window (start inclusive, end exclusive)."""
    if window is None:
        return True
    start, end = window
    if start <= end:
        return start <= now < end
    return now >= start or now < end


class Throttle:
    """Keeps a stream at or under `rate` bytes per second by sleeping between chunks."""

    def __init__(self, rate: int, clock=time.monotonic, sleep=time.sleep):
        self.rate, self.clock, self.sleep = rate, clock, sleep
        self.started, self.sent = clock(), 0
        self.lock = threading.Lock()

    def account(self, size: int) -> None:
        """Count `size` bytes just sent, and wait as long as the cap asks."""
        if self.rate <= 0:
            return
        with self.lock:
            self.sent += size
            ahead = self.sent / self.rate - (self.clock() - self.started)
        if ahead > 0:
            self.sleep(ahead)
