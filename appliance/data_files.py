"""The files of a box's data folder that hold (or may hold) patient data, for converting and
rotating: everything but the sealed keys, the inbox and the database (SQLCipher's own)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

from .config import Config

SKIPPED_SUFFIXES = (".refused",)  # a page view's refusal reason: limits, never patient data
ABANDONED_SECONDS = 3600


def _remove_if_abandoned(path: Path) -> None:
    try:
        if time.time() - path.stat().st_mtime > ABANDONED_SECONDS:
            path.unlink()
    except FileNotFoundError:
        pass


def box_files(config: Config) -> Iterator[Path]:
    """Every such file. A `.part` is a write under way, skipped; one left by a write cut short
    over an hour ago (no write takes that long) is removed on the way."""
    skipped = {config.keys_dir, config.inbox}
    for folder, subfolders, files in os.walk(config.data_dir):
        here = Path(folder)
        subfolders[:] = [name for name in subfolders if here / name not in skipped]
        for name in files:
            path = here / name
            if here == config.data_dir and name.startswith(config.database_path.name):
                continue
            if name.endswith(".part"):
                _remove_if_abandoned(path)
                continue
            if name.endswith(SKIPPED_SUFFIXES) or path.is_symlink():
                continue
            yield path
