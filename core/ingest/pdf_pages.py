"""Page images for searchable PDFs (box and hub): one page of an original as a grey JPEG, turned
and levelled exactly as Tesseract read it (so the kept word boxes fit it), with its size on paper.

Rendering happens in a sandboxed child (time and memory bounded), like the viewer's page images;
the result comes back in memory and nothing is written.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image

from ..sealed_files import PLAIN, Sealing
from .rasterize import Limits, Rejected, describe_unknown, render_page, sniff
from .sandbox import Budget, run

PRINT_MAX_WIDTH = 1700  # about 200 dpi across A4: sharp to read and print, a few hundred KB a page
JPEG_QUALITY = 75
A4_LONG_SIDE_INCHES = 11.69  # the paper assumed for an image that does not say its resolution
PLAUSIBLE_DPI = (50, 1200)

# A run of text from a PDF's own text layer: the text and its box (left, top, right, bottom) as
# fractions of the page's width and height, from the top left.
TextBox = tuple[str, float, float, float, float]
# A page to render: its number, the degrees it was turned (clockwise) and levelled by when read.
PageTurn = tuple[int, int, float]


@dataclass
class PrintedPage:
    jpeg: bytes
    width: float  # points
    height: float
    read_size: tuple[int, int]  # the image as read (the word boxes' pixels), before any downscaling
    text_boxes: list[TextBox] = field(default_factory=list)


def _own_text(source: Path | bytes, index: int) -> tuple[tuple[float, float], list[TextBox]]:
    """A PDF page's size in points and the runs of its own text layer."""
    pdf = pdfium.PdfDocument(source if isinstance(source, bytes) else str(source))
    try:
        page = pdf[index]
        width, height = page.get_size()
        textpage = page.get_textpage()
        boxes: list[TextBox] = []
        for n in range(textpage.count_rects()):
            left, bottom, right, top = textpage.get_rect(n)
            text = textpage.get_text_bounded(left, bottom, right, top).strip()
            if text:
                boxes.append((text, left / width, 1 - top / height, right / width, 1 - bottom / height))
        textpage.close()
        page.close()
        return (width, height), boxes
    finally:
        pdf.close()


def _image_dpi(source: Path | bytes, image: Image.Image) -> float:
    """The resolution an image file says it was scanned at, else what fits it on A4."""
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as header:
        dpi = header.info.get("dpi", (0, 0))[0]
    if PLAUSIBLE_DPI[0] <= float(dpi) <= PLAUSIBLE_DPI[1]:
        return float(dpi)
    return max(image.size) / A4_LONG_SIDE_INCHES


def _print(source: Path | bytes, kind: str, number: int, rotation: int, skew: float, limits: Limits) -> PrintedPage:
    rendered = render_page(source, kind, number - 1, limits)
    image = rendered.image if rendered.image.mode == "L" else rendered.image.convert("L")
    text_boxes: list[TextBox] = []
    if kind == "pdf":
        (width_pt, _), own = _own_text(source, number - 1)
        dpi = image.width * 72 / width_pt
        text_boxes = own if rendered.text_layer is not None else []
    else:
        dpi = _image_dpi(source, image)
    if rotation:
        image = image.rotate(-rotation, expand=True)
    if skew:  # as core.ingest.ocr.straighten levelled it
        image = image.rotate(skew, expand=True, fillcolor=255, resample=Image.Resampling.BILINEAR)
    read_size = image.size
    if image.width > PRINT_MAX_WIDTH:
        image = image.resize(
            (PRINT_MAX_WIDTH, round(image.height * PRINT_MAX_WIDTH / image.width)), Image.Resampling.LANCZOS
        )
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=JPEG_QUALITY)
    return PrintedPage(
        jpeg=jpeg.getvalue(),
        width=read_size[0] * 72 / dpi,
        height=read_size[1] * 72 / dpi,
        read_size=read_size,
        text_boxes=text_boxes,
    )


def _print_all(stored: Path, wanted: list[PageTurn], limits: Limits, sealing: Sealing) -> list[PrintedPage | None]:
    source = sealing.source(stored)
    if isinstance(source, bytes):
        head = source[:4096]
    else:
        with stored.open("rb") as handle:
            head = handle.read(4096)
    kind = sniff(head)
    if kind is None:
        raise Rejected(f"not a scan: the content is {describe_unknown(head)}")
    printed: list[PrintedPage | None] = []
    for number, rotation, skew in wanted:
        try:
            printed.append(_print(source, kind, number, rotation, skew, limits))
        except Rejected:
            printed.append(None)
    return printed


def render_for_pdf(
    stored: Path, wanted: list[PageTurn], limits: Limits, budget: Budget, sealing: Sealing = PLAIN
) -> list[PrintedPage | None]:
    """Pages of the original at `stored`, each (number, rotation, skew) turned and levelled as it
    was read, as JPEGs for a PDF; None for a page that cannot be rendered. One sandboxed child
    renders them all within `budget` a page (a sealed original is decrypted once, in memory); if
    that child is stopped, each page is tried in a child of its own."""
    if not wanted:
        return []
    whole = Budget(budget.seconds * len(wanted), budget.memory_mb)
    try:
        return run(whole, f"rendering {len(wanted)} pages", _print_all, stored, wanted, limits, sealing)
    except Rejected:
        if len(wanted) == 1:
            return [None]
    return [render_for_pdf(stored, [page], limits, budget, sealing)[0] for page in wanted]
