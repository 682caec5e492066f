"""Hostile and unreadable files are quarantined with a reason; good files keep flowing.

Rendering is limited here to RENDER_SECONDS and RENDER_MEMORY_MB a page, so that a PDF that
would keep pdfium busy for minutes, or need gigabytes, shows the limits at work; the times
measured are bounds that show a limit held, not speed benchmarks.
"""

import io
import os
import re
import struct
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image

from appliance.ingest.intake import accept_file, store_path
from appliance.models import Document, Quarantine, Scan
from core.ingest.views import PLACEHOLDER_SIZE
from core.waiting import wait_for_http
from tests.conftest import PASSWORDS
from tests.factories import (
    fills_pdf,
    flate_bomb_pdf,
    make_document,
    record_lines,
    render_page,
    save_image,
    text_layer_pdf,
)
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
RENDER_SECONDS = 5
RENDER_MEMORY_MB = 512
# A PDF that fills the page 300,000 times (pdfium: minutes at 300 dpi) and one whose image
# inflates to 2 GB; both are a few KB on disk.
OVER_THE_LIMITS = {
    "fills.pdf": (fills_pdf, f"rendering page 1 took longer than the {RENDER_SECONDS} s limit"),
    "bomb.pdf": (flate_bomb_pdf, f"rendering page 1 needs more than the {RENDER_MEMORY_MB} MB memory limit"),
}


@pytest.fixture
def box_config(box_config):
    """The test box, with rendering limited to RENDER_SECONDS and RENDER_MEMORY_MB a page."""
    return box_config.with_overrides(render_seconds=RENDER_SECONDS, render_memory_mb=RENDER_MEMORY_MB)


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


def test_pages_over_the_render_limits_are_quarantined_while_a_good_scan_is_filed(box, runner):
    hostile = {}
    for name, (make, _) in OVER_THE_LIMITS.items():
        (box.inbox / name).write_bytes(make())
        hostile[name] = accept_file(box.inbox / name, box).scan
    good = accept_file(save_image(render_page(record_lines(), noise=0.0003), box.inbox / "good.png", "PNG"), box).scan
    started = time.monotonic()
    runner.run_until_idle()
    elapsed = time.monotonic() - started
    for name, (_, reason) in OVER_THE_LIMITS.items():
        assert Scan.get_by_id(hostile[name].id).status == "quarantined"
        assert reason in Quarantine.get(Quarantine.scan == hostile[name].id).reason
    document = Document.get(Document.scan == good.id)
    assert document.status == "filed" and document.patient.mrn == "00123456"
    assert elapsed < RENDER_SECONDS + 40


@pytest.fixture
def served_box(box, users):
    """The box's web UI under gunicorn (one worker) on this test's box; its base URL."""
    port = free_port()
    env = dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(box.data_dir),
        APPLIANCE_INBOX=str(box.inbox),
        APPLIANCE_WEB_WORKERS="1",
        APPLIANCE_RENDER_SECONDS=str(RENDER_SECONDS),
        APPLIANCE_RENDER_MEMORY_MB=str(RENDER_MEMORY_MB),
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def signed_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    answer = session.post(
        f"{base}/login",
        data={"username": username, "password": PASSWORDS[username], "csrf_token": token},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    return session


def image_url(base: str, document) -> str:
    return f"{base}/documents/{document.id}/pages/{document.pages[0].id}/image"


@pytest.mark.parametrize("name", sorted(OVER_THE_LIMITS))
def test_the_viewer_answers_a_placeholder_for_a_page_over_the_render_limits(box, served_box, name):
    hostile = make_document(box, original=OVER_THE_LIMITS[name][0](), name=name)
    normal = make_document(box)
    session = signed_in(served_box, "bob")
    with ThreadPoolExecutor(max_workers=1) as background:
        started = time.monotonic()
        pending = background.submit(session.get, image_url(served_box, hostile), timeout=60)
        # The only web worker is rendering the hostile page meanwhile; another page still shows.
        other = session.get(image_url(served_box, normal), timeout=60)
        assert other.status_code == 200 and Image.open(io.BytesIO(other.content)).width == 1400
        answer = pending.result()
        elapsed = time.monotonic() - started
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(answer.content)).size == PLACEHOLDER_SIZE
    assert elapsed < RENDER_SECONDS + 5
    started = time.monotonic()
    again = session.get(image_url(served_box, hostile), timeout=60)
    assert again.content == answer.content and time.monotonic() - started < 2
