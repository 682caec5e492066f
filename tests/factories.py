"""Test scans made like a scanner makes them: A4 at 300 dpi, rendered text, noise, skew."""

from __future__ import annotations

import io
import random
import zlib
from pathlib import Path

import zxingcpp
from PIL import Image, ImageDraw, ImageFilter, ImageFont

A4_300DPI = (2480, 3508)
MARGIN = 200


def font(size: int = 44) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def render_page(
    lines: list[str],
    *,
    size: int = 44,
    noise: float = 0.0015,
    rotate: float = 0.0,
    turn: int = 0,
    seed: int = 1,
    blur: bool = True,
) -> Image.Image:
    """An A4 300 dpi grayscale page with `lines` of text, speckle noise and slight skew."""
    page = Image.new("L", A4_300DPI, 255)
    draw = ImageDraw.Draw(page)
    y = MARGIN
    face = font(size)
    for line in lines:
        draw.text((MARGIN, y), line, fill=20, font=face)
        y += int(size * 1.7)
    rng = random.Random(seed)
    pixels = page.load()
    for _ in range(int(A4_300DPI[0] * A4_300DPI[1] * noise)):
        pixels[rng.randrange(A4_300DPI[0]), rng.randrange(A4_300DPI[1])] = rng.choice((0, 90, 160))
    if blur:
        page = page.filter(ImageFilter.GaussianBlur(0.6))
    if rotate:
        page = page.rotate(rotate, resample=Image.BICUBIC, expand=False, fillcolor=255)
    if turn:
        page = page.rotate(turn, expand=True)
    return page


def barcode_page(payload: str, kind=zxingcpp.BarcodeFormat.QRCode, caption: str | None = None) -> Image.Image:
    """A separator or cover sheet: one big barcode (QR by default) and an optional caption."""
    page = Image.new("L", A4_300DPI, 255)
    code = zxingcpp.create_barcode(payload, kind)
    symbol = Image.fromarray(__import__("numpy").asarray(zxingcpp.write_barcode_to_image(code, scale=12))).convert("L")
    if symbol.width > 1800:
        symbol = symbol.resize((1800, max(200, round(symbol.height * 1800 / symbol.width))), Image.NEAREST)
    if kind != zxingcpp.BarcodeFormat.QRCode and symbol.height < 300:
        symbol = symbol.resize((symbol.width, 400), Image.NEAREST)
    page.paste(symbol, ((A4_300DPI[0] - symbol.width) // 2, 700))
    if caption:
        ImageDraw.Draw(page).text((MARGIN, 300), caption, fill=0, font=font(60))
    return page


def record_lines(
    mrn="00123456", name="SMITH, John", dob="14/03/1975", title="LABORATORY REPORT", doc_date="02/04/2024", body=None
) -> list[str]:
    """The text of a typical clinic document; pass None to leave an identifier out."""
    lines = [title, ""]
    if name is not None:
        lines.append(f"Patient Name: {name}")
    if dob is not None:
        lines.append(f"Date of Birth: {dob}")
    if mrn is not None:
        lines.append(f"MRN: {mrn}")
    if doc_date is not None:
        lines.append(f"Report Date: {doc_date}")
    lines.append("")
    lines.extend(
        body
        or [
            "Specimen: venous blood, collected at the clinic.",
            "Haemoglobin 13.5 g/dL   Reference range 13.0 - 17.0",
            "White cell count 6.1   Reference range 4.0 - 11.0",
            "Comment: results within normal limits.",
        ]
    )
    return lines


def save_pdf(pages: list[Image.Image], path: Path, dpi: int = 300) -> Path:
    """An image-only PDF, as a scanner makes it."""
    first, *rest = [p.convert("L") for p in pages]
    first.save(path, format="PDF", resolution=dpi, save_all=True, append_images=rest)
    return path


def save_tiff(pages: list[Image.Image], path: Path, group4: bool = False) -> Path:
    converted = [p.convert("1") if group4 else p for p in pages]
    options = {"compression": "group4"} if group4 else {"compression": "tiff_lzw"}
    first, *rest = converted
    first.save(path, format="TIFF", save_all=True, append_images=rest, dpi=(300, 300), **options)
    return path


def save_image(page: Image.Image, path: Path, fmt: str) -> Path:
    page.save(path, format=fmt, dpi=(300, 300), **({"quality": 85} if fmt == "JPEG" else {}))
    return path


def text_layer_pdf(lines: list[str], path: Path) -> Path:
    """A born-digital PDF with a real text layer (no OCR needed)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    y = A4[1] - 72
    for line in lines:
        pdf.drawString(72, y, line)
        y -= 16
    pdf.save()
    return path


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF file of `objects` (numbered from 1, the first the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< " + dictionary + f" /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream"


def _one_page_pdf(content: bytes, resources: bytes = b"<< >>", *more: bytes) -> bytes:
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources " + resources + b" /Contents 4 0 R >>",
            content,
            *more,
        ]
    )


def fills_pdf(fills: int = 300_000) -> bytes:
    """A one-page A4 PDF whose compressed content stream fills the whole page `fills` times
    (about 13 KB on disk; minutes of pdfium's time at 300 dpi)."""
    return _one_page_pdf(_stream(b"/Filter /FlateDecode", zlib.compress(b"0 0 595 842 re f\n" * fills, 9)))


def _deflated_ff(size: int) -> bytes:
    """A zlib stream that inflates to `size` (a multiple of 1 MiB) 0xFF bytes, made without
    compressing them all: one compressed MiB, flushed to a block boundary, repeated."""
    block = b"\xff" * 2**20
    compressor = zlib.compressobj(9)
    head = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    body = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()[:-4]  # the empty final block; the checksum is for the whole size
    a = (1 + 0xFF * size) % 65521
    b = (size + 0xFF * size * (size + 1) // 2) % 65521
    return head + body * (size // 2**20 - 1) + end + ((b << 16) | a).to_bytes(4, "big")


def flate_bomb_pdf(width: int = 40960, height: int = 49152) -> bytes:
    """A one-page PDF showing one 8-bit grey image of `width` x `height` pixels (2 GB decoded),
    Flate-compressed twice (about 5 KB on disk)."""
    data = zlib.compress(_deflated_ff(width * height), 9)
    image = _stream(
        f"/Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceGray "
        "/BitsPerComponent 8 /Filter [/FlateDecode /FlateDecode]".encode(),
        data,
    )
    content = _stream(b"", b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    return _one_page_pdf(content, b"<< /XObject << /Im0 5 0 R >> >>", image)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_document(
    config,
    *,
    patient=None,
    status="filed",
    texts=("Haemoglobin normal",),
    doc_type="lab_report",
    doc_date=None,
    reason=None,
    name="scan.png",
    original: bytes | None = None,
    extracted: dict | None = None,
):
    """A processed scan with one document, stored like the pipeline stores it (no OCR run); its
    original is a TIFF of the texts unless `original` gives the file; `extracted` is what ingest
    read (see appliance.ingest.recording)."""
    import hashlib
    import uuid as _uuid

    from appliance.db import database
    from appliance.ingest.intake import store_path
    from appliance.models import Document, Job, Page, Scan
    from appliance.search import index_page

    if original is None:
        image = render_page([f"{texts[0]}", _uuid.uuid4().hex], noise=0, blur=False)
        frames = [image.copy() for _ in texts]
        buffer = io.BytesIO()
        frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_lzw")
        original = buffer.getvalue()
    data = original
    sha = hashlib.sha256(data).hexdigest()
    target = store_path(config, sha)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    with database.atomic():
        scan = Scan.create(sha256=sha, original_name=name, size=len(data), status="processed", page_count=len(texts))
        Job.create(scan=scan, state="done", pages_total=len(texts), pages_done=len(texts))
        document = Document.create(
            scan=scan,
            patient=patient,
            status=status,
            review_reason=reason,
            doc_type=doc_type,
            doc_date=doc_date,
            first_page=1,
            page_count=len(texts),
            extracted=extracted,
        )
        for number, text in enumerate(texts, start=1):
            page = Page.create(scan=scan, document=document, number=number, text=text)
            index_page(page.id, text)
    return document


def quick_documents(box_config, count: int, first: int = 0, size: int = 40_000) -> None:
    """`count` recorded documents (random originals in the store, one page each), queued for the hub."""
    import hashlib
    import os

    from appliance import outbox
    from appliance.db import database
    from appliance.ingest.intake import store_path
    from appliance.models import Document, Page, Scan

    for n in range(first, first + count):
        data = os.urandom(size)
        sha = hashlib.sha256(data).hexdigest()
        path = store_path(box_config, sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        with database.atomic():
            scan = Scan.create(
                sha256=sha,
                original_name=f"scan-{n}.pdf",
                source="test",
                size=len(data),
                status="processed",
                page_count=1,
            )
            document = Document.create(
                scan=scan, status="needs_review", review_reason="test", doc_type="other", first_page=1, page_count=1
            )
            Page.create(
                scan=scan,
                document=document,
                number=1,
                text=f"fault test page {n}",
                text_source="ocr",
                rotation=0,
                is_separator=False,
            )
            outbox.document_changed(document)
