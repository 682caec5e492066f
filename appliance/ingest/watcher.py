"""Watching the scanner's inbox: events, a start-up scan and periodic rescans, stability checks.

A file is handed on only once its size and mtime have not changed for `stable_seconds`
(scanners and SMB clients write slowly, in pieces). Empty files get a longer grace period
because scanners often create the file first and fill it later. Watchdog's native observer
misses events on network mounts, so polling is one setting away, and the periodic rescan
catches whatever any observer missed.
"""

from __future__ import annotations

import fnmatch
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from ..config import Config

IGNORED_PATTERNS = (
    ".*",
    "~$*",
    "*.tmp",
    "*.temp",
    "*.part",
    "*.partial",
    "*.crdownload",
    "*.swp",
    "Thumbs.db",
    "desktop.ini",
    "*.lnk",
    "*.filepart",
    "~*.tmp",
)


def is_ignored(name: str) -> bool:
    """True for scanner temp files and OS litter (hidden files, Office locks, *.tmp, ...)."""
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in IGNORED_PATTERNS)


@dataclass
class _Seen:
    signature: tuple
    since: float
    first_seen: float


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: InboxWatcher):
        self.watcher = watcher

    def on_any_event(self, event):
        if event.is_directory:
            return
        for attr in ("src_path", "dest_path"):
            path = getattr(event, attr, None)
            if path:
                self.watcher.notice(Path(os.fsdecode(path)))


class InboxWatcher:
    """Collects candidate files from the inbox and says which are ready to take in."""

    def __init__(self, config: Config):
        self.config = config
        self.inbox = config.inbox
        self.lock = threading.Lock()
        self.candidates: set[Path] = set()
        self.seen: dict[Path, _Seen] = {}
        self.last_rescan = 0.0
        self.observer = None

    def start(self):
        """Start the observer and do the start-up scan."""
        observer_class = PollingObserver if self.config.watch_polling else Observer
        self.observer = observer_class(timeout=1.0) if self.config.watch_polling else observer_class()
        self.observer.schedule(_Handler(self), str(self.inbox), recursive=True)
        self.observer.start()
        self.rescan()

    def stop(self):
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(timeout=5)

    def notice(self, path: Path):
        """Called from the observer thread: this path may have changed."""
        with self.lock:
            self.candidates.add(path)

    def rescan(self):
        """Walk the whole inbox (subfolders too, never following links) for files to consider."""
        self.last_rescan = time.monotonic()
        found = []
        stack = [self.inbox]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if not is_ignored(entry.name):
                        stack.append(Path(entry.path))
                else:
                    found.append(Path(entry.path))
        with self.lock:
            self.candidates.update(found)

    def ready(self, now: float | None = None) -> list[Path]:
        """Files whose size and mtime have been stable long enough; forget vanished ones."""
        now = time.monotonic() if now is None else now
        if now - self.last_rescan >= self.config.rescan_seconds:
            self.rescan()
        with self.lock:
            candidates = list(self.candidates)
        ready = []
        for path in candidates:
            verdict = self._check(path, now)
            if verdict != "wait":
                with self.lock:
                    self.candidates.discard(path)
                self.seen.pop(path, None)
            if verdict == "ready":
                ready.append(path)
        return sorted(ready)

    def retry_later(self, path: Path):
        """The file changed while being taken in: watch it again from scratch."""
        self.seen.pop(path, None)
        self.notice(path)

    def _check(self, path: Path, now: float) -> str:
        if is_ignored(path.name) or any(is_ignored(part) for part in path.relative_to(self.inbox).parts[:-1]):
            return "skip"
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return "skip"
        except OSError:
            return "wait"
        if not os.path.isfile(path) and not os.path.islink(path):
            return "ready" if not os.path.isdir(path) else "skip"
        signature = (info.st_size, info.st_mtime_ns, info.st_ino)
        seen = self.seen.get(path)
        if seen is None or seen.signature != signature:
            first = seen.first_seen if seen else now
            self.seen[path] = _Seen(signature=signature, since=now, first_seen=first)
            return "ready" if os.path.islink(path) else "wait"
        if now - seen.since < self.config.stable_seconds:
            return "wait"
        if info.st_size == 0 and now - seen.first_seen < self.config.empty_grace_seconds:
            return "wait"
        return "ready"
