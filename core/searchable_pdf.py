"""Searchable PDF/A-2b files (box and hub): page images with an invisible text layer placed from
the OCR word boxes already kept, and a patient's chart (a cover page, then documents, each with a
bookmark).

Built in memory only: an encrypted box must never write a plain copy. reportlab draws the pages
(text in render mode 3, invisible, in an embedded TrueType font); pikepdf then adds what PDF/A
asks for: XMP metadata naming PDF/A-2b and an sRGB output intent with its ICC profile.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass

import pikepdf
from PIL import Image, ImageCms, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from .ingest.pdf_pages import PrintedPage
from .ingest.views import PLACEHOLDER_TEXT
from .ingest.word_boxes import WordBoxes

FONT = "DigiFortVera"  # Bitstream Vera, shipped inside reportlab: embedded, so any reader shows it
FONT_BOLD = "DigiFortVeraBold"
INVISIBLE = 3  # text render mode: neither filled nor stroked, but selectable and searchable
LOOSE_SIZE, LOOSE_LEADING = 10, 12
ASPECT_TOLERANCE = 0.02  # word boxes made on an image of another shape do not fit this one
INVISIBLE_TEXT_SIZE = 0.85  # of the box's height: a box holds ascenders and descenders
BASELINE_ABOVE_BOTTOM = 0.2
UNREADABLE_PIXELS = (827, 1170)  # A4 at 100 dpi


@dataclass(frozen=True)
class PageWord:
    """A word and its box as fractions of the page's width and height, from the top left."""

    text: str
    left: float
    top: float
    right: float
    bottom: float


@dataclass(frozen=True)
class PdfPage:
    """One page: a JPEG filling it, its size in points, and the text laid invisibly over it
    (placed words, or else loose text in lines from the top)."""

    image: bytes
    width: float
    height: float
    words: Sequence[PageWord] = ()
    loose_text: str = ""


@dataclass(frozen=True)
class Section:
    """A document in a chart: its bookmark title and its pages."""

    title: str
    pages: Sequence[PdfPage]


@dataclass(frozen=True)
class Cover:
    heading: str
    facts: Sequence[tuple[str, str]]


def words_from_boxes(text: str, boxes: WordBoxes) -> list[PageWord]:
    """The page's words placed by their kept OCR boxes (the words themselves from the page text)."""
    width, height = boxes.size
    placed = []
    for start, end, _confidence, left, top, box_width, box_height in boxes.words:
        word = text[start:end].strip()
        if word and box_width > 0 and box_height > 0:
            placed.append(
                PageWord(word, left / width, top / height, (left + box_width) / width, (top + box_height) / height)
            )
    return placed


def unreadable_page(text: str) -> PdfPage:
    """An A4 page saying the scan's page could not be shown, with its text laid out loosely."""
    image = Image.new("L", UNREADABLE_PIXELS, 235)
    draw = ImageDraw.Draw(image)
    draw.text((60, 80), PLACEHOLDER_TEXT, fill=60, font=ImageFont.load_default(size=34))
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=70)
    return PdfPage(jpeg.getvalue(), A4[0], A4[1], loose_text=text)


def pdf_page(printed: PrintedPage | None, text: str, boxes: WordBoxes | None) -> PdfPage:
    """A PDF page from a rendered page and what was read from it: OCR words where their boxes were
    kept and fit the image, the PDF's own text runs for a page that had a text layer, or else the
    page text laid out loosely (searchable, not placed); a page that could not be rendered says so."""
    if printed is None:
        return unreadable_page(text)
    if boxes is not None and boxes.words:
        shape, read_shape = boxes.size[0] / boxes.size[1], printed.read_size[0] / printed.read_size[1]
        if abs(shape - read_shape) <= ASPECT_TOLERANCE * read_shape:
            return PdfPage(printed.jpeg, printed.width, printed.height, words_from_boxes(text, boxes))
    if printed.text_boxes:
        runs = [PageWord(*run) for run in printed.text_boxes]
        return PdfPage(printed.jpeg, printed.width, printed.height, runs)
    return PdfPage(printed.jpeg, printed.width, printed.height, loose_text=text)


def _fonts() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, "Vera.ttf"))
        pdfmetrics.registerFont(TTFont(FONT_BOLD, "VeraBd.ttf"))


def _draw_words(canvas: Canvas, page: PdfPage) -> None:
    text = canvas.beginText()
    text.setTextRenderMode(INVISIBLE)
    for word in page.words:
        left, right = word.left * page.width, word.right * page.width
        box_height = (word.bottom - word.top) * page.height
        size = max(box_height * INVISIBLE_TEXT_SIZE, 1.0)
        natural = pdfmetrics.stringWidth(word.text, FONT, size)
        text.setFont(FONT, size)
        text.setHorizScale(100 * (right - left) / natural if natural else 100)
        text.setTextOrigin(left, (1 - word.bottom) * page.height + box_height * BASELINE_ABOVE_BOTTOM)
        text.textOut(word.text + " ")
    canvas.drawText(text)


def _draw_loose(canvas: Canvas, page: PdfPage) -> None:
    text = canvas.beginText(LOOSE_LEADING, page.height - LOOSE_LEADING * 2)
    text.setTextRenderMode(INVISIBLE)
    text.setFont(FONT, LOOSE_SIZE, LOOSE_LEADING)
    text.textLines(page.loose_text)
    canvas.drawText(text)


def _draw_page(canvas: Canvas, page: PdfPage) -> None:
    canvas.setPageSize((page.width, page.height))
    canvas.drawImage(ImageReader(io.BytesIO(page.image)), 0, 0, page.width, page.height)
    if page.words:
        _draw_words(canvas, page)
    elif page.loose_text.strip():
        _draw_loose(canvas, page)
    canvas.showPage()


def _draw_cover(canvas: Canvas, cover: Cover) -> None:
    height = A4[1]
    canvas.setPageSize(A4)
    canvas.setFont(FONT_BOLD, 20)
    canvas.drawString(72, height - 96, cover.heading)
    y = height - 140
    for label, value in cover.facts:
        canvas.setFont(FONT_BOLD, 11)
        canvas.drawString(72, y, label)
        canvas.setFont(FONT, 11)
        canvas.drawString(200, y, value)
        y -= 20
    canvas.setFont(FONT, 9)
    canvas.drawString(72, 72, "Confidential health information. Disclosed from DigiFort; the disclosure is audited.")
    canvas.showPage()


def _canvas(buffer: io.BytesIO, title: str, author: str) -> Canvas:
    _fonts()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1, initialFontName=FONT)  # never an unembedded Helvetica
    canvas.setTitle(title)
    canvas.setAuthor(author)
    canvas.setCreator("DigiFort")
    canvas.setSubject("Scanned pages with their recognised text (PDF/A-2b)")
    return canvas


def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def as_pdfa(raw: bytes, title: str, author: str, now: dt.datetime | None = None) -> bytes:
    """The PDF with what PDF/A-2b asks for beyond reportlab's output: an sRGB output intent (its ICC
    profile embedded) and XMP metadata that agrees with the document information."""
    now = now or dt.datetime.now(dt.UTC)
    with pikepdf.open(io.BytesIO(raw)) as pdf:
        profile = pdf.make_stream(_srgb_profile())
        profile.N = 3
        pdf.Root.OutputIntents = pikepdf.Array(
            [
                pikepdf.Dictionary(
                    Type=pikepdf.Name.OutputIntent,
                    S=pikepdf.Name.GTS_PDFA1,
                    OutputConditionIdentifier="sRGB IEC61966-2.1",
                    RegistryName="http://www.color.org",
                    Info="sRGB IEC61966-2.1",
                    DestOutputProfile=profile,
                )
            ]
        )
        stamp = now.strftime("D:%Y%m%d%H%M%SZ")
        pdf.docinfo["/CreationDate"] = pikepdf.String(stamp)
        pdf.docinfo["/ModDate"] = pikepdf.String(stamp)
        if "/Trapped" in pdf.docinfo:  # reportlab's /False has no XMP equivalent to agree with
            del pdf.docinfo["/Trapped"]
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta.load_from_docinfo(pdf.docinfo)
            meta["pdfaid:part"] = "2"
            meta["pdfaid:conformance"] = "B"
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True, min_version="1.7")
    return out.getvalue()


def searchable_pdf(pages: Sequence[PdfPage], title: str, author: str) -> bytes:
    """One document as a searchable PDF/A-2b, in memory."""
    buffer = io.BytesIO()
    canvas = _canvas(buffer, title, author)
    for page in pages:
        _draw_page(canvas, page)
    canvas.save()
    return as_pdfa(buffer.getvalue(), title, author)


def chart_pdf(cover: Cover, sections: Sequence[Section], title: str, author: str) -> bytes:
    """A chart as one searchable PDF/A-2b, in memory: the cover page, then each section's pages
    under a bookmark of its own (the outline shows when the file opens)."""
    buffer = io.BytesIO()
    canvas = _canvas(buffer, title, author)
    canvas.bookmarkPage("cover")
    canvas.addOutlineEntry("Cover", "cover", level=0)
    _draw_cover(canvas, cover)
    for number, section in enumerate((s for s in sections if s.pages), start=1):
        key = f"section-{number}"
        canvas.bookmarkPage(key)
        canvas.addOutlineEntry(section.title, key, level=0)
        for page in section.pages:
            _draw_page(canvas, page)
    canvas.showOutline()
    canvas.save()
    return as_pdfa(buffer.getvalue(), title, author)
