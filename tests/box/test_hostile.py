"""Hostile and unreadable files are quarantined with a reason; good files keep flowing."""

import io
import struct
import zlib

import pytest
from PIL import Image

from appliance.ingest.intake import accept_file, store_path
from appliance.models import Document, Quarantine, Scan
from tests.factories import record_lines, render_page, save_image, text_layer_pdf


def bomb_png() -> bytes:
    """A tiny PNG that claims 30000 x 30000 pixels (900 MP) of 1-bit data."""
    width = height = 30000
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * (width // 8)
    data = zlib.compress(row * 64, 9)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def many_page_tiff(pages: int) -> bytes:
    buffer = io.BytesIO()
    frames = [Image.new("1", (64, 64), 1) for _ in range(pages)]
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:], compression="group4")
    return buffer.getvalue()


def encrypted_pdf(tmp_path) -> bytes:
    from pypdf import PdfReader, PdfWriter

    plain = text_layer_pdf(record_lines(), tmp_path / "plain.pdf")
    writer = PdfWriter()
    for page in PdfReader(plain).pages:
        writer.add_page(page)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    render_page(["JPEG TEST PAGE"], noise=0).save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def pdf_bytes(tmp_path) -> bytes:
    return text_layer_pdf(record_lines(), tmp_path / "good.pdf").read_bytes()


CASES = {
    "empty.pdf": (lambda tmp: b"", "empty file"),
    "truncated.jpg": (lambda tmp: jpeg_bytes()[:4000], "unreadable image"),
    "truncated.pdf": (lambda tmp: pdf_bytes(tmp)[:700], "truncated PDF"),
    "notes.pdf": (lambda tmp: b"Patient notes typed in a text editor\n" * 20, "not a scan: the content is plain text"),
    "bomb.png": (lambda tmp: bomb_png(), "possible decompression bomb"),
    "long.tif": (lambda tmp: many_page_tiff(300), "300 pages, over the limit of 200"),
    "photo.pdf": (lambda tmp: jpeg_bytes(), "wrong extension: the file is named .pdf but its content is JPEG"),
    "locked.pdf": (encrypted_pdf, "encrypted PDF"),
    "report.docx": (lambda tmp: b"PK\x03\x04" + b"\x00" * 100, "ZIP/Office document"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_file_is_quarantined_with_its_reason_and_original_kept(box, runner, tmp_path, name):
    make, reason = CASES[name]
    data = make(tmp_path)
    path = box.inbox / name
    path.write_bytes(data)
    intake = accept_file(path, box)
    runner.run_until_idle()
    scan = Scan.get_by_id(intake.scan.id)
    assert scan.status == "quarantined"
    entry = Quarantine.get(Quarantine.scan == scan.id)
    assert reason in entry.reason
    assert store_path(box, scan.sha256).read_bytes() == data
    assert Document.select().count() == 0


def test_good_file_keeps_flowing_between_hostile_ones(box, runner, tmp_path):
    for name in ("empty.pdf", "bomb.png", "long.tif", "notes.pdf"):
        (box.inbox / name).write_bytes(CASES[name][0](tmp_path))
        accept_file(box.inbox / name, box)
    good = save_image(render_page(record_lines(), noise=0.0003), box.inbox / "good.png", "PNG")
    good_scan = accept_file(good, box).scan
    runner.run_until_idle()
    assert Scan.select().where(Scan.status == "quarantined").count() == 4
    document = Document.get(Document.scan == good_scan.id)
    assert document.status == "filed" and document.patient.mrn == "00123456"
