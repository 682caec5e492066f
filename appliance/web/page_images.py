"""Page images for the viewer, rendered from the original on first view and kept."""
from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from sync.retention import original_path

from ..config import Config
from ..ingest.rasterize import Limits, render_page, sniff
from ..models import Page, Scan

VIEW_WIDTH = 1400


def view_image(config: Config, scan: Scan, page: Page) -> Path:
    """A JPEG of the page about 1400 px wide, upright, cached under views/."""
    target = config.views_dir / scan.sha256[:2] / scan.sha256 / f"{page.number}.jpg"
    if target.exists():
        return target
    limits = Limits(config.max_pages, config.max_page_pixels, config.max_file_bytes)
    return render_view(original_path(config, scan), page.number, page.rotation, limits, target)


def render_view(source: Path, number: int, rotation: int, limits: Limits, target: Path) -> Path:
    """Render page `number` of the original at `source` to `target` as a viewer JPEG."""
    with open(source, "rb") as handle:
        kind = sniff(handle.read(4096))
    image = render_page(source, kind, number - 1, limits).image
    if rotation:
        image = image.rotate(-rotation, expand=True)
    if image.width > VIEW_WIDTH:
        image = image.convert("L").resize((VIEW_WIDTH, round(image.height * VIEW_WIDTH / image.width)), Image.LANCZOS)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    image.convert("L").save(partial, format="JPEG", quality=82)
    os.replace(partial, target)
    return target
