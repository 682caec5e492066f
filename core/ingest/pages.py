"""Work done in the OCR pool's processes: inspect a scan, then read one page of it."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ..sealed_files import PLAIN, Sealing, sealed_size_for
from .barcodes import half_size, read_barcodes
from .ocr import OcrTimeout, TesseractNotFound, Word, read_page
from .ocr import tesseract_version as installed_tesseract
from .rasterize import Inspection, Limits, Rejected, RenderedPage, inspect, render_page
from .sandbox import Budget, limit_memory, run
from .word_boxes import WordBoxes, write_word_boxes

THUMB_SIZE = (320, 453)
LITTLE_TEXT_CHARS = 300  # a separator or cover sheet has a caption at most
# A blank page: fewer than 0.005% of its quarter-scale pixels at least 60 levels darker than the
# paper (a signature or one short line is ten times that), ignoring a 4% border where scanners
# leave shadows and punch holes.
BLANK_INK_CONTRAST = 60
BLANK_INK_FRACTION = 0.00005
BLANK_BORDER = 0.04
TESSERACT_MISSING = "Tesseract is not installed or not on PATH; install tesseract-ocr"


@dataclass(frozen=True)
class PageSettings:
    limits: Limits
    budget: Budget
    language: str
    timeout: int
    data_dir: str
    sealing: Sealing = PLAIN


@dataclass
class PageResult:
    number: int
    text: str
    text_source: str
    confidence: float | None
    rotation: int
    barcodes: list[str]
    thumbnail: str
    problem: str | None = None
    words: list[Word] = field(default_factory=list)
    image_size: tuple[int, int] | None = None  # of the image the words' boxes are on


class TesseractMissing(RuntimeError):
    """Tesseract cannot be run in this pool process (raised where it can be pickled back to the runner)."""


def init_process(memory_mb: int | None = None):
    """Pool initializer: Tesseract must not start its own threads (they oversubscribe small boxes);
    with `memory_mb`, the process (and the Tesseract it runs) gets that address-space limit."""
    os.environ["OMP_THREAD_LIMIT"] = "1"
    if memory_mb is not None:
        limit_memory(memory_mb)


def tesseract_version() -> str:
    """Pool task run once per process at start-up: proves the process is up and Tesseract is there."""
    try:
        return installed_tesseract()
    except TesseractNotFound:
        raise TesseractMissing(TESSERACT_MISSING) from None


def _inspect_stored(path: str, original_name: str, limits: Limits, sealing: Sealing) -> Inspection:
    size = os.stat(path).st_size
    if sealing.sealed and size > sealed_size_for(limits.max_file_bytes):  # refused before decrypting
        raise Rejected(f"file is {size / 2**20:.0f} MB, over the {limits.max_file_bytes / 2**20:.0f} MB limit")
    return inspect(sealing.source(Path(path)), original_name, limits)


def inspect_scan(path: str, original_name: str, limits: Limits, budget: Budget, sealing: Sealing = PLAIN) -> Inspection:
    """Pool task: format, sanity and page count of a stored scan, read (and, on an encrypted box,
    decrypted in memory) within `budget`; raises Rejected."""
    return run(budget, "opening the file", _inspect_stored, path, original_name, limits, sealing)


def _render_stored(path: str, kind: str, index: int, limits: Limits, sealing: Sealing) -> RenderedPage:
    return render_page(sealing.source(Path(path)), kind, index, limits)


def thumbnail_path(sha256: str, number: int) -> str:
    """Where a page's thumbnail lives, relative to the data directory."""
    return f"thumbs/{sha256[:2]}/{sha256}/{number}.jpg"


def _write_thumbnail(image: Image.Image, data_dir: str, relative: str, sealing: Sealing):
    thumb = image.copy() if image.mode == "L" else image.convert("L")
    thumb.thumbnail(THUMB_SIZE, Image.Resampling.BILINEAR, reducing_gap=2.0)
    jpeg = io.BytesIO()
    thumb.save(jpeg, format="JPEG", quality=75)
    sealing.write(Path(data_dir) / relative, jpeg.getvalue(), mode=0o644)


def is_blank(image: Image.Image) -> bool:
    """True for a page with no ink worth reading (a duplex scan's blank back): dust and paper
    grain are averaged away at quarter scale, and ink is what is clearly darker than the paper."""
    small = (image if image.mode == "L" else image.convert("L")).reduce(4)
    dx, dy = round(small.width * BLANK_BORDER), round(small.height * BLANK_BORDER)
    small = small.crop((dx, dy, small.width - dx, small.height - dy))
    histogram = small.histogram()
    total = sum(histogram)
    seen, paper = 0, 255
    for level in range(255, -1, -1):
        seen += histogram[level]
        if seen >= total * 0.5:
            paper = level
            break
    ink = sum(histogram[: max(0, paper - BLANK_INK_CONTRAST)])
    return ink < total * BLANK_INK_FRACTION


def process_page(path: str, sha256: str, kind: str, index: int, settings: PageSettings) -> PageResult:
    """Pool task: render (in a child within the settings' budget), read barcodes, OCR (unless a
    good text layer exists or the page is blank), thumbnail; the OCR word boxes are kept beside it."""
    number = index + 1
    rendered = run(
        settings.budget,
        f"rendering page {number}",
        _render_stored,
        path,
        kind,
        index,
        settings.limits,
        settings.sealing,
    )
    image, problem = rendered.image, None
    words: list[Word] = []
    image_size = None
    if rendered.text_layer is None and is_blank(image):
        text, confidence, rotation, source = "", None, 0, "blank"
    elif rendered.text_layer is None:
        try:
            result, image = read_page(image, settings.language, settings.timeout)
            text, confidence, rotation, source = result.text, result.confidence, result.rotation, "ocr"
            words, image_size = result.words, image.size
            if words:
                boxes = WordBoxes(size=image.size, rotation=result.rotation, skew=result.skew, words=words)
                write_word_boxes(settings.data_dir, sha256, number, boxes, settings.sealing)
        except TesseractNotFound:
            raise TesseractMissing(TESSERACT_MISSING) from None
        except OcrTimeout as error:
            text, confidence, rotation, source = "", None, 0, "ocr"
            problem = f"page {number}: {error}"
    else:
        text, confidence, rotation, source = rendered.text_layer, None, 0, "pdf"
    gray = image if image.mode == "L" else image.convert("L")
    half = half_size(gray)
    barcodes = read_barcodes(gray, half, little_text=len(text) < LITTLE_TEXT_CHARS)
    relative = thumbnail_path(sha256, number)
    _write_thumbnail(half, settings.data_dir, relative, settings.sealing)
    return PageResult(
        number=number,
        text=text,
        text_source=source,
        confidence=confidence,
        rotation=rotation,
        barcodes=barcodes,
        thumbnail=relative,
        problem=problem,
        words=words,
        image_size=image_size,
    )
