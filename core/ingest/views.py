"""Page images for the viewers (box and hub): one page of an original rendered as a JPEG.

Rendering happens in a sandboxed child (time and memory bounded); a page that cannot be shown
is answered with a placeholder image, and remembered, so asking again costs nothing.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .rasterize import Limits, Rejected, describe_unknown, render_page, sniff
from .sandbox import Budget, run

VIEW_WIDTH = 1400
PLACEHOLDER_SIZE = (700, 990)
PLACEHOLDER_TEXT = "This page could not be shown"
log = logging.getLogger(__name__)


def _render(source: Path, number: int, rotation: int, limits: Limits, target: Path) -> Path:
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
    partial = target.with_suffix(f".{os.getpid()}.part")  # each render is a process of its own
    image.convert("L").save(partial, format="JPEG", quality=82)
    os.replace(partial, target)
    return target


def render_view(source: Path, number: int, rotation: int, limits: Limits, budget: Budget, target: Path) -> Path:
    """Render page `number` of the original at `source` to `target` as a viewer JPEG, within `budget`."""
    return run(budget, f"rendering page {number}", _render, source, number, rotation, limits, target)


def placeholder(folder: Path) -> Path:
    """A small grey "page could not be shown" JPEG, made once in `folder`."""
    target = folder / "placeholder.jpg"
    if target.exists():
        return target
    image = Image.new("L", PLACEHOLDER_SIZE, 235)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=34)
    left, top, right, bottom = draw.textbbox((0, 0), PLACEHOLDER_TEXT, font=font)
    position = ((PLACEHOLDER_SIZE[0] - right + left) // 2, (PLACEHOLDER_SIZE[1] - bottom + top) // 2)
    draw.text(position, PLACEHOLDER_TEXT, fill=60, font=font)
    folder.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=folder, suffix=".part")  # web threads may make it at once
    with os.fdopen(handle, "wb") as out:
        image.save(out, format="JPEG", quality=70)
    os.replace(partial, target)
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


def view_or_placeholder(target: Path, budget: Budget, render: Callable[[], Path], placeholders: Path) -> Path:
    """The cached view at `target`, else `render()` it within `budget`; the placeholder (kept in
    `placeholders`) when the page cannot be shown, now or on an earlier try under the same budget."""
    if target.exists():
        return target
    refusal = refusal_of(target)
    if _refused_within(refusal, budget):
        return placeholder(placeholders)
    try:
        return render()
    except Rejected as problem:
        log.warning("page %s of original %s cannot be shown: %s", target.stem, target.parent.name, problem.reason)
        refusal.parent.mkdir(parents=True, exist_ok=True)
        refusal.write_text(f"{_budget_line(budget)}\n{problem.reason}\n")
        return placeholder(placeholders)
