"""Tesseract on one page image: one call for a clean upright page, a second look otherwise.

A skewed page is levelled first (a cheap projection-profile estimate; Tesseract itself copes
with under a degree). The fast path is then a single Tesseract call, the floor the pipeline is
measured against. Only a page that reads badly pays for orientation detection (OSD), and the
turned reading is kept only when it actually reads better.
"""

from __future__ import annotations

import io
import re
import subprocess
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

from .deskew import estimate_skew

LOW_CONFIDENCE = 70.0
MIN_TEXT_CHARS = 25
INK_THRESHOLD = 0.004
MIN_SKEW = 1.0
# Paper darker than this anywhere (a phone photo's shadow, a grey copier background) is evened out
# before Tesseract binarises the page; clean scans stay on the fast path.
UNEVEN_PAPER_BELOW = 200


class OcrTimeout(Exception):
    """Tesseract did not finish the page within the per-page timeout."""


# One word as Tesseract read it: where it sits in the page text (start, end), its confidence
# (0-100), and its box on the page image (left, top, width, height, in pixels).
Word = tuple[int, int, int, int, int, int, int]


@dataclass
class OcrResult:
    text: str
    confidence: float
    score: float
    rotation: int = 0
    skew: float = 0.0
    words: list[Word] = field(default_factory=list)


def _result_from_tsv(tsv: str) -> OcrResult:
    """Rebuild the page text line by line from Tesseract's TSV output, and score it.

    Columns: level page block par line word left top width height conf text. Only word rows
    (conf >= 0) with text count; a blank line separates paragraphs. Each word keeps its
    confidence and box, placed by its offsets in the rebuilt text.
    """
    lines: dict[tuple, list[tuple[str, int, tuple[int, int, int, int]]]] = {}
    weighted, weight, score = 0.0, 0, 0.0
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t", 11)
        if len(cells) < 12 or cells[10].startswith("-"):
            continue
        word = cells[11].strip()
        if not word:
            continue
        conf = float(cells[10])
        box = (int(cells[6]), int(cells[7]), int(cells[8]), int(cells[9]))
        lines.setdefault((cells[2], cells[3], cells[4]), []).append((word, round(conf), box))
        alnum = sum(map(str.isalnum, word))
        weighted += conf * max(alnum, 1)
        weight += max(alnum, 1)
        if alnum >= 2:
            score += alnum * conf / 100
    text: list[str] = []
    words: list[Word] = []
    offset, previous = 0, None
    for key, entries in lines.items():
        if previous is not None:
            gap = "\n\n" if key[:2] != previous[:2] else "\n"
            text.append(gap)
            offset += len(gap)
        for n, (word, conf, box) in enumerate(entries):
            if n:
                text.append(" ")
                offset += 1
            words.append((offset, offset + len(word), conf, *box))
            text.append(word)
            offset += len(word)
        previous = key
    confidence = weighted / weight if weight else 0.0
    return OcrResult(text="".join(text), confidence=round(confidence, 1), score=score, words=words)


class TesseractNotFound(RuntimeError):
    """The `tesseract` program is not installed or not on PATH."""


def run_tesseract(image: bytes, arguments: list[str], timeout: int) -> str:
    """Tesseract on an image handed over on its standard input (no file, plain or otherwise);
    its standard output. Raises OcrTimeout, TesseractNotFound, or RuntimeError with its message."""
    try:
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", *arguments], input=image, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise OcrTimeout(f"Tesseract took longer than {timeout} s") from None
    except FileNotFoundError:
        raise TesseractNotFound("tesseract is not on PATH") from None
    if done.returncode != 0:
        raise RuntimeError(f"Tesseract failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    return done.stdout.decode("utf-8", errors="replace")


def tesseract_version() -> str:
    """The installed Tesseract's version (raises TesseractNotFound)."""
    try:
        done = subprocess.run(["tesseract", "--version"], capture_output=True, timeout=30, check=False)
    except FileNotFoundError:
        raise TesseractNotFound("tesseract is not on PATH") from None
    first = (done.stdout or done.stderr).decode(errors="replace").splitlines()
    return first[0].removeprefix("tesseract ").strip() if first else "unknown"


def _tesseract(image: bytes, language: str, timeout: int) -> OcrResult:
    return _result_from_tsv(run_tesseract(image, ["-l", language, "--psm", "3", "tsv"], timeout))


def _osd_rotation(image: bytes, timeout: int) -> int:
    """Degrees (clockwise) that OSD says the page must turn to be upright; 0 when unsure."""
    try:
        osd = run_tesseract(image, ["--psm", "0"], timeout)
    except (OcrTimeout, RuntimeError):
        return 0
    fields = dict(line.split(":", 1) for line in osd.splitlines() if ":" in line)
    try:
        if float(fields.get("Orientation confidence", "0")) < 1.0:
            return 0
        return int(fields.get("Rotate", "0")) % 360
    except ValueError:
        return 0


def _ink_fraction(image: Image.Image) -> float:
    small = image.convert("L").reduce(8) if min(image.size) >= 64 else image.convert("L")
    histogram = small.histogram()
    return sum(histogram[:128]) / max(1, sum(histogram))


def needs_second_look(result: OcrResult, image: Image.Image) -> bool:
    """True when the page reads badly: little text on an inked page, or low confidence."""
    chars = len(re.sub(r"\W", "", result.text))
    if chars < MIN_TEXT_CHARS:
        return _ink_fraction(image) > INK_THRESHOLD
    return result.confidence < LOW_CONFIDENCE


def _pnm(image: Image.Image) -> bytes:
    """The page as a PNM in memory: Tesseract reads it from its standard input."""
    out = io.BytesIO()
    image.save(out, format="PPM")
    return out.getvalue()


def even_out_light(image: Image.Image) -> Image.Image:
    """The page with uneven lighting divided out (paper white everywhere), or as it is when even.

    The paper's brightness is estimated as the brightest pixel around each point of a 1/16 scale
    copy (text is darker than paper, so the maximum finds the paper under it).
    """
    gray = image if image.mode == "L" else image.convert("L")
    if min(gray.size) < 256:
        return gray
    paper = gray.reduce(16).filter(ImageFilter.MaxFilter(5))
    if min(paper.getdata()) >= UNEVEN_PAPER_BELOW:
        return gray
    paper = paper.filter(ImageFilter.GaussianBlur(2)).resize(gray.size, Image.Resampling.BILINEAR)
    ratio = np.asarray(gray, dtype=np.float32) / np.maximum(np.asarray(paper, dtype=np.float32), 1.0)
    return Image.fromarray(np.clip(ratio * 255.0, 0, 255).astype(np.uint8), mode="L")


def straighten(image: Image.Image) -> tuple[Image.Image, float]:
    """The page turned so its text rows are level, when it is skewed enough to matter."""
    angle = estimate_skew(image)
    if abs(angle) < MIN_SKEW:
        return image, 0.0
    gray = image if image.mode == "L" else image.convert("L")
    return gray.rotate(angle, expand=True, fillcolor=255, resample=Image.Resampling.BILINEAR), angle


def read_page(image: Image.Image, language: str, timeout: int) -> tuple[OcrResult, Image.Image]:
    """OCR the page; return the best reading and the page image as it was read (upright, level)."""
    image = even_out_light(image)
    level, angle = straighten(image)
    pnm = _pnm(level)
    best, best_image = _tesseract(pnm, language, timeout), level
    best.skew = angle
    if not needs_second_look(best, level):
        return best, best_image
    rotation = _osd_rotation(pnm, timeout)
    if not rotation:
        return best, best_image
    turned, angle = straighten(image.rotate(-rotation, expand=True))
    try:
        candidate = _tesseract(_pnm(turned), language, timeout)
    except OcrTimeout:
        return best, best_image
    candidate.rotation, candidate.skew = rotation, angle
    if candidate.score > best.score:
        return candidate, turned
    return best, best_image
