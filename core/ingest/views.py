"""Page images for the viewers (box and hub): one page of an original rendered as a JPEG.

Rendering happens in a sandboxed child (time and memory bounded); a page that cannot be shown
is answered with a placeholder image, and remembered, so asking again costs nothing.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ..sealed_files import PLAIN, Sealing
from .rasterize import Limits, Rejected, describe_unknown, render_page, sniff
from .sandbox import Budget, run

VIEW_WIDTH = 1400
PLACEHOLDER_SIZE = (700, 990)
PLACEHOLDER_TEXT = "This page could not be shown"
log = logging.getLogger(__name__)


def _render(stored: Path, number: int, rotation: int, limits: Limits, target: Path, sealing: Sealing) -> Path:
    source = sealing.source(stored)
    head = source[:4096] if isinstance(source, bytes) else stored.open("rb").read(4096)
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
    jpeg = io.BytesIO()
    image.convert("L").save(jpeg, format="JPEG", quality=82)
    sealing.write(target, jpeg.getvalue(), mode=0o644)
    return target


def render_view(
    source: Path, number: int, rotation: int, limits: Limits, budget: Budget, target: Path, sealing: Sealing = PLAIN
) -> Path:
    """Render page `number` of the original at `source` to `target` as a viewer JPEG, within
    `budget`; with a sealing, the original is decrypted in memory and the view sealed as written."""
    return run(budget, f"rendering page {number}", _render, source, number, rotation, limits, target, sealing)


def placeholder(folder: Path, sealing: Sealing = PLAIN) -> Path:
    """A small grey "page could not be shown" JPEG, made once in `folder` (kept as the views are,
    so whoever shows views reads it the same way)."""
    target = folder / ("placeholder.sealed.jpg" if sealing.sealed else "placeholder.jpg")
    if target.exists():
        return target
    image = Image.new("L", PLACEHOLDER_SIZE, 235)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=34)
    left, top, right, bottom = draw.textbbox((0, 0), PLACEHOLDER_TEXT, font=font)
    position = ((PLACEHOLDER_SIZE[0] - right + left) // 2, (PLACEHOLDER_SIZE[1] - bottom + top) // 2)
    draw.text(position, PLACEHOLDER_TEXT, fill=60, font=font)
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=70)
    sealing.write(target, jpeg.getvalue(), mode=0o644)  # web threads may make it at once: each its own partial
    return target


def refusal_of(target: Path) -> Path:
    """Where the reason a page's view could not be made is kept, next to where the view would be."""
    return target.with_suffix(".refused")


def _budget_line(budget: Budget) -> str:
    return f"{budget.seconds:g} s {budget.memory_mb} MB"


def _refused_within(refusal: Path, budget: Budget) -> bool:
    """True when the page was already refused under this same budget (a changed limit earns a new try)."""
    try:
        return refusal.read_text().split("\n", 1)[0] == _budget_line(budget)
    except FileNotFoundError:
        return False


def view_or_placeholder(
    target: Path, budget: Budget, render: Callable[[], Path], placeholders: Path, sealing: Sealing = PLAIN
) -> Path:
    """The cached view at `target`, else `render()` it within `budget`; the placeholder (kept in
    `placeholders`) when the page cannot be shown, now or on an earlier try under the same budget."""
    if target.exists():
        return target
    refusal = refusal_of(target)
    if _refused_within(refusal, budget):
        return placeholder(placeholders, sealing)
    try:
        return render()
    except Rejected as problem:
        log.warning("page %s of original %s cannot be shown: %s", target.stem, target.parent.name, problem.reason)
        refusal.parent.mkdir(parents=True, exist_ok=True)
        refusal.write_text(f"{_budget_line(budget)}\n{problem.reason}\n")
        return placeholder(placeholders, sealing)
