"""Page images at the hub, rendered from the stored original on first view and kept for HUB_VIEW_CACHE_DAYS."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from core.ingest.rasterize import Limits
from core.ingest.views import render_view, view_or_placeholder

from .config import HubConfig
from .models import Blob, Document
from .storage import Storage
from .view_cache import is_fresh, view_path

LIMITS = Limits(max_pages=1000, max_page_pixels=90_000_000, max_file_bytes=2 * 1024**3)


def view_image(config: HubConfig, storage: Storage, document: Document, blob: Blob, number: int) -> Path:
    """A JPEG of page `number` of the document's original, cached under HUB_DATA_DIR/views/ for
    HUB_VIEW_CACHE_DAYS; a placeholder when the page cannot be rendered within the render limits."""
    target = view_path(config, blob.sha256, number)
    if is_fresh(target, config.view_cache_days):
        return target
    target.unlink(missing_ok=True)
    budget = config.render_budget

    def render() -> Path:
        config.staging_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=config.staging_dir, suffix=".original") as copy:
            with storage.open(blob.storage_key) as source:
                shutil.copyfileobj(source, copy)
            copy.flush()
            return render_view(Path(copy.name), number, 0, LIMITS, budget, target)

    return view_or_placeholder(target, budget, render, config.views_dir)
