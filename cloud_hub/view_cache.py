"""Rendered page images at the hub: a cache of patient data with a lifetime.

Each JPEG lives `HUB_VIEW_CACHE_DAYS` from when it was rendered: an older one is rendered again
when it is next viewed, and the nightly `python -m cloud_hub archive` removes those nobody viewed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .config import HubConfig

DAY = 86_400


def view_path(config: HubConfig, sha256: str, number: int) -> Path:
    """Where the image of page `number` of the original `sha256` is cached."""
    return config.views_dir / sha256[:2] / sha256 / f"{number}.jpg"


def is_fresh(path: Path, days: float, now: float | None = None) -> bool:
    """True when `path` exists and was rendered less than `days` ago."""
    try:
        rendered = path.stat().st_mtime
    except FileNotFoundError:
        return False
    return (time.time() if now is None else now) - rendered < days * DAY


def prune_views(config: HubConfig, now: float | None = None) -> int:
    """Remove every cached page image older than HUB_VIEW_CACHE_DAYS (and emptied folders); how many."""
    removed = 0
    for folder, _, names in os.walk(config.views_dir, topdown=False):
        for name in names:
            path = Path(folder) / name
            if not is_fresh(path, config.view_cache_days, now):
                path.unlink(missing_ok=True)
                removed += 1
        if Path(folder) != config.views_dir and not any(Path(folder).iterdir()):
            Path(folder).rmdir()
    return removed
