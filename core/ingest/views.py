"""Page images for the viewers (box and hub): one page of an original rendered as a JPEG."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from .rasterize import Limits, Rejected, describe_unknown, render_page, sniff

VIEW_WIDTH = 1400


def render_view(source: Path, number: int, rotation: int, limits: Limits, target: Path) -> Path:
    """Render page `number` of the original at `source` to `target` as a viewer JPEG."""
    with open(source, "rb") as handle:
        head = handle.read(4096)
    kind = sniff(head)
    if kind is None:
        raise Rejected(f"not a scan: the content is {describe_unknown(head)}")
    image = render_page(source, kind, number - 1, limits).image
    if rotation:
        image = image.rotate(-rotation, expand=True)
    if image.width > VIEW_WIDTH:
        image = image.convert("L").resize(
            (VIEW_WIDTH, round(image.height * VIEW_WIDTH / image.width)), Image.Resampling.LANCZOS
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    image.convert("L").save(partial, format="JPEG", quality=82)
    os.replace(partial, target)
    return target
