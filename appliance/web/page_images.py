"""Page images for the viewer, rendered from the original on first view and kept."""

from __future__ import annotations

from pathlib import Path

from appliance.sync.retention import original_path
from core.ingest.rasterize import Limits
from core.ingest.views import render_view, view_or_placeholder

from .. import at_rest
from ..config import Config
from ..models import Page, Scan


def view_image(config: Config, scan: Scan, page: Page) -> Path:
    """A JPEG of the page about 1400 px wide, upright, cached under views/; a placeholder when
    the page cannot be rendered within the render limits."""
    target = config.views_dir / scan.sha256[:2] / scan.sha256 / f"{page.number}.jpg"
    limits = Limits(config.max_pages, config.max_page_pixels, config.max_file_bytes)
    budget = config.render_budget
    sealing = at_rest.sealing()
    return view_or_placeholder(
        target,
        budget,
        lambda: render_view(original_path(config, scan), page.number, page.rotation, limits, budget, target, sealing),
        config.views_dir,
        sealing,
    )
