"""Turn a stored scan (PDF, TIFF, JPEG, PNG) into page images, within safe limits.

Every way a file can be hostile or unreadable ends in `Rejected` with a reason a clinic
can act on; nothing here trusts the file name or the file's own claims about its size.
"""

from __future__ import annotations

import io
import re
import resource
import warnings
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageOps

SIGNATURES = (
    (b"%PDF-", "pdf"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
)
EXTENSIONS = {"pdf": "pdf", "tif": "tiff", "tiff": "tiff", "jpg": "jpeg", "jpeg": "jpeg", "png": "png"}
LABELS = {"pdf": "PDF", "tiff": "TIFF", "jpeg": "JPEG", "png": "PNG"}
DEFAULT_DPI = 300
MIN_DPI, MAX_DPI = 150, 600
TEXT_LAYER_DPI = 150


class Rejected(Exception):
    """The file cannot be processed; `reason` says why in plain words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# A stored scan as a renderer gets it: the path of a plain file, or the bytes of a sealed one
# decrypted in memory (never written out plain).
Source = Path | bytes


def _size(source: Source) -> int:
    return len(source) if isinstance(source, bytes) else source.stat().st_size


def _head(source: Source, count: int) -> bytes:
    if isinstance(source, bytes):
        return source[:count]
    with open(source, "rb") as handle:
        return handle.read(count)


def _tail(source: Source, count: int) -> bytes:
    if isinstance(source, bytes):
        return source[-count:]
    with open(source, "rb") as handle:
        handle.seek(max(0, source.stat().st_size - count))
        return handle.read()


@dataclass(frozen=True)
class Limits:
    max_pages: int
    max_page_pixels: int
    max_file_bytes: int


@dataclass(frozen=True)
class Inspection:
    kind: str
    page_count: int


def sniff(head: bytes) -> str | None:
    """The scan format that `head` (the file's first bytes) starts with, if any."""
    if head[:1024].find(b"%PDF-") != -1:
        return "pdf"
    for signature, kind in SIGNATURES:
        if head.startswith(signature):
            return kind
    return None


def describe_unknown(head: bytes) -> str:
    """A short guess at what an unsupported file is, for the quarantine reason."""
    sample = head[:512]
    if not sample:
        return "empty"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in sample):
        return "plain text"
    if sample.startswith(b"PK\x03\x04"):
        return "a ZIP/Office document"
    if sample.startswith(b"GIF8"):
        return "a GIF image"
    if sample.startswith(b"BM"):
        return "a BMP image"
    return "an unrecognised binary format"


def _extension(name: str) -> str:
    match = re.search(r"\.(?=[A-Za-z0-9]*[A-Za-z])([A-Za-z0-9]{1,10})$", name)
    return match.group(1).lower() if match else ""


def _guard_images(limits: Limits):
    """Make Pillow treat anything over the pixel limit as an error, not a warning."""
    Image.MAX_IMAGE_PIXELS = limits.max_page_pixels
    warnings.simplefilter("error", Image.DecompressionBombWarning)


def inspect(source: Source, original_name: str, limits: Limits) -> Inspection:
    """Check that the file is a scan we can read and count its pages, or raise Rejected."""
    size = _size(source)
    if size == 0:
        raise Rejected("empty file (0 bytes)")
    if size > limits.max_file_bytes:
        raise Rejected(f"file is {size / 2**20:.0f} MB, over the {limits.max_file_bytes / 2**20:.0f} MB limit")
    head = _head(source, 4096)
    kind = sniff(head)
    ext = _extension(original_name)
    if kind is None:
        raise Rejected(f"not a scan: the content is {describe_unknown(head)}, not PDF, TIFF, JPEG or PNG")
    if ext and EXTENSIONS.get(ext) != kind:
        raise Rejected(f"wrong extension: the file is named .{ext} but its content is {LABELS[kind]}")
    count = _count_pages(source, kind, limits)
    if count == 0:
        raise Rejected(f"{LABELS[kind]} has no pages")
    if count > limits.max_pages:
        raise Rejected(f"{count} pages, over the limit of {limits.max_pages} pages per file")
    return Inspection(kind=kind, page_count=count)


def _count_pages(source: Source, kind: str, limits: Limits) -> int:
    if kind == "pdf":
        with _open_pdf(source) as pdf:
            return len(pdf)
    with _open_image(source, limits) as image:
        return getattr(image, "n_frames", 1)


class _open_pdf:
    """Open a PDF or raise Rejected with the reason (encrypted, truncated, damaged)."""

    def __init__(self, source: Source):
        self.source = source

    def __enter__(self):
        if b"%%EOF" not in _tail(self.source, 2048):
            raise Rejected("truncated PDF: the file ends before the PDF's end-of-file marker")
        try:
            self.pdf = pdfium.PdfDocument(self.source if isinstance(self.source, bytes) else str(self.source))
        except pdfium.PdfiumError as error:
            if pdfium_c.FPDF_GetLastError() == pdfium_c.FPDF_ERR_PASSWORD or "password" in str(error).lower():
                raise Rejected("encrypted PDF: it needs a password; save it again without one") from None
            raise Rejected(f"damaged PDF: {error}") from None
        return self.pdf

    def __exit__(self, *exc):
        self.pdf.close()
        return False


class _open_image:
    """Open an image with the decompression-bomb guard on, or raise Rejected."""

    def __init__(self, source: Source, limits: Limits):
        self.source, self.limits = source, limits

    def __enter__(self):
        _guard_images(self.limits)
        try:
            self.image = Image.open(io.BytesIO(self.source) if isinstance(self.source, bytes) else self.source)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Rejected(
                f"image too large: over the limit of {self.limits.max_page_pixels:,} pixels per page "
                "(possible decompression bomb)"
            ) from None
        except (OSError, SyntaxError, ValueError) as error:
            raise Rejected(f"unreadable image: {error}") from None
        return self.image

    def __exit__(self, *exc):
        self.image.close()
        return False


@dataclass
class RenderedPage:
    image: Image.Image
    text_layer: str | None = None


def render_page(source: Source, kind: str, index: int, limits: Limits) -> RenderedPage:
    """The page image (mode 'L' or '1'); for a PDF with a good text layer, that text too."""
    if kind == "pdf":
        return _render_pdf_page(source, index, limits)
    with _open_image(source, limits) as image:
        try:
            image.seek(index)
            image.load()
            frame = ImageOps.exif_transpose(image) if kind == "jpeg" else image
            frame = frame if frame.mode in ("1", "L") else frame.convert("L")
            frame.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Rejected(f"page {index + 1} is over the limit of {limits.max_page_pixels:,} pixels") from None
        except (OSError, SyntaxError, ValueError, EOFError) as error:
            raise Rejected(f"unreadable image on page {index + 1}: {error}") from None
        return RenderedPage(image=frame.copy() if frame is image else frame)


def _scan_dpi(page) -> int:
    """The resolution the page was scanned at, from its largest embedded image."""
    width_in = page.get_width() / 72
    best = 0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
        try:
            px_width = obj.get_px_size()[0]
            left, _, right, _ = obj.get_bounds()
        except pdfium.PdfiumError:
            continue
        shown_in = (right - left) / 72
        if shown_in >= width_in * 0.5 and px_width:
            best = max(best, round(px_width / shown_in))
    return min(max(best, MIN_DPI), MAX_DPI) if best else DEFAULT_DPI


def _check_image_memory(page, number: int):
    """Reject a page holding an image too big to decode within this process's address-space limit.

    pdfium leaves out an image it cannot allocate without a word (the page renders blank), so a
    decompression bomb under the sandbox's limit would pass as an empty page; say why instead.
    """
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit == resource.RLIM_INFINITY:
        return
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=4):
        try:
            width, height = obj.get_px_size()
            bits = obj.get_metadata().bits_per_pixel or 8
        except pdfium.PdfiumError:
            continue
        if width * height * bits // 8 > limit:
            raise Rejected(
                f"rendering page {number} needs more than the {limit // 2**20} MB memory limit "
                f"(it holds a {width:,} x {height:,} pixel image; possible decompression bomb)"
            )


def good_text_layer(text: str) -> bool:
    """True when a PDF's own text looks like real words rather than missing glyph maps."""
    stripped = "".join(text.split())
    if len(stripped) < 40:
        return False
    readable = sum(1 for ch in stripped if ch.isalnum() or ch in ".,:;/()-#'\"%&+*!?")
    words = re.findall(r"[A-Za-z]{3,}", text)
    wordy = [w for w in words if re.search(r"[aeiouyAEIOUY]", w)]
    return readable / len(stripped) >= 0.9 and len(wordy) >= 5


def _render_pdf_page(source: Source, index: int, limits: Limits) -> RenderedPage:
    with _open_pdf(source) as pdf:
        page = pdf[index]
        try:
            textpage = page.get_textpage()
            text = textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n")
            textpage.close()
        except pdfium.PdfiumError:
            text = ""
        has_layer = good_text_layer(text)
        dpi = TEXT_LAYER_DPI if has_layer else _scan_dpi(page)
        width, height = page.get_size()
        pixels = (width / 72 * dpi) * (height / 72 * dpi)
        if pixels > limits.max_page_pixels:
            raise Rejected(f"page {index + 1} is over the limit of {limits.max_page_pixels:,} pixels at {dpi} dpi")
        _check_image_memory(page, index + 1)
        try:
            bitmap = page.render(scale=dpi / 72, grayscale=True)
        except pdfium.PdfiumError as error:
            raise Rejected(f"page {index + 1} cannot be rendered: {error}") from None
        image = bitmap.to_pil().convert("L")
        page.close()
        return RenderedPage(image=image, text_layer=text if has_layer else None)
