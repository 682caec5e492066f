"""Taking a file in: safe open, hash, copy into the content-addressed store, record, then remove.

The order is the durability promise: the bytes are fsynced in the store and the scan and its
job are committed before the file leaves the inbox, so a crash at any point loses nothing. A
file seen again after a crash between commit and removal is recognised by its identity
(device, inode, mtime, size and hash) and only removed, never recorded twice.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import stat
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.files import fsync_dir

from .. import at_rest, audit
from ..config import Config
from ..db import database
from ..models import Job, Quarantine, Scan

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024


class FileChanging(Exception):
    """The file changed while it was being copied; try again once it is stable."""


@dataclass
class Intake:
    scan: Scan | None
    outcome: str
    reason: str | None = None


def store_path(config: Config, sha256: str) -> Path:
    """Where the original with this hash lives in the content-addressed store."""
    return config.store_dir / sha256[:2] / sha256


def open_original(config: Config, sha256: str) -> BinaryIO:
    """The original's plain bytes as a file: the stored file itself on a plain box, the sealed
    one decrypted in memory on an encrypted box."""
    path = store_path(config, sha256)
    sealing = at_rest.sealing()
    return io.BytesIO(sealing.read(path)) if sealing.sealed else open(path, "rb")


def _copy_into_store(read: Callable[[int], bytes], config: Config) -> tuple[str, int]:
    """Copy what `read(n)` returns into the store (sealed as it is written, on an encrypted box)
    while hashing it; return (sha256, bytes)."""
    partial = config.tmp_dir / f"intake-{uuid.uuid4().hex}.part"
    try:
        sha256, size = at_rest.sealing().write_partial(read, partial)
        target = store_path(config, sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            partial.unlink()
        else:
            os.replace(partial, target)
            fsync_dir(target.parent)
        return sha256, size
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _quarantine_unreadable(path: Path, name: str, reason: str, detail: str | None, remove: bool) -> Intake:
    with database.atomic():
        entry = Quarantine.create(original_name=name, reason=reason, detail=detail)
        audit.record("quarantine.add", obj=entry, reason=reason)
    if remove:
        path.unlink(missing_ok=True)
    log.warning("quarantined an inbox entry (quarantine id %s): %s", entry.id, reason)
    return Intake(scan=None, outcome="quarantined", reason=reason)


def _open_regular(path: Path, name: str, remove: bool):
    """Open without following symlinks; return (fd, stat) or an Intake for what was refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None, Intake(scan=None, outcome="gone")
    except OSError as error:
        if error.errno == errno.ELOOP:
            target = os.readlink(path)
            return None, _quarantine_unreadable(
                path,
                name,
                "symbolic link: the box does not follow links, only takes regular files",
                f"link pointed to {target}",
                remove,
            )
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None, _quarantine_unreadable(path, name, "not a regular file (a device, pipe or socket)", None, remove)
    return (fd, info), None


def accept_file(
    path: Path,
    config: Config,
    *,
    source: str = "inbox",
    remove: bool = True,
    original_name: str | None = None,
    actor: str = "system",
) -> Intake:
    """Take one file into the box: store it durably, record a scan (or a duplicate), remove it."""
    name = original_name or path.name
    opened, refused = _open_regular(path, name, remove)
    if refused is not None:
        return refused
    fd, before = opened
    try:
        sha256, size = _copy_into_store(lambda n: os.read(fd, n), config)
    finally:
        os.close(fd)
    after = os.stat(path, follow_symlinks=False)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or size != before.st_size:
        raise FileChanging(str(path))
    identity = f"{before.st_dev}:{before.st_ino}:{before.st_mtime_ns}:{before.st_size}" if remove else None
    with database.atomic("IMMEDIATE"):
        intake = _record(sha256, size, name, source, identity, actor)
    if remove:
        path.unlink(missing_ok=True)
    return intake


def accept_stream(stream: BinaryIO, config: Config, *, source: str, original_name: str, actor: str) -> Intake:
    """Take a file that arrives as a stream (a web upload, held in memory) into the box: it is
    stored (sealed as it is written) and recorded, and no plain copy is ever written."""
    sha256, size = _copy_into_store(stream.read, config)
    with database.atomic("IMMEDIATE"):
        return _record(sha256, size, original_name, source, None, actor)


def _record(sha256: str, size: int, name: str, source: str, identity: str | None, actor: str) -> Intake:
    if identity is not None:
        seen = Scan.get_or_none((Scan.origin_identity == identity) & (Scan.sha256 == sha256))
        if seen is not None:
            return Intake(scan=seen, outcome="already_recorded")
    original = Scan.original_of(sha256)
    scan = Scan.create(
        sha256=sha256,
        original_name=name,
        source=source,
        size=size,
        origin_identity=identity,
        status="duplicate" if original else "pending",
        duplicate_of=original,
    )
    if original is not None:
        audit.record("scan.duplicate", actor=actor, obj=scan, duplicate_of=original.id)
        return Intake(scan=scan, outcome="duplicate")
    Job.create(scan=scan)
    audit.record("scan.receive", actor=actor, obj=scan, source=source, size=size)
    return Intake(scan=scan, outcome="new")
