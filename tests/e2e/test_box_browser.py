"""The box UI in real headless Chromium against gunicorn and a real worker with real Tesseract.

Signs in, uploads scans, watches them get filed, finds one through search, opens the viewer,
resolves a review item and is logged off after the idle time. Screenshots of the dashboard,
the search results and the viewer are saved under test-artifacts/screenshots/.
"""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.factories import record_lines, render_page, save_image

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]
IDLE_MINUTES = 1.25
pytestmark = [pytest.mark.ocr, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the box web UI did not start")


@pytest.fixture(scope="module")
def box_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("box")
    port = free_port()
    env = dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(data / "data"),
        APPLIANCE_INBOX=str(data / "inbox"),
        APPLIANCE_IDLE_MINUTES=str(IDLE_MINUTES),
        APPLIANCE_OCR_PROCESSES="2",
        APPLIANCE_BIND=f"127.0.0.1:{port}",
    )
    subprocess.run(
        [sys.executable, "-m", "appliance", "init", "--admin-password", "browser-test-pass"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "appliance", command],
            cwd=ROOT,
            env=env,
            stdout=open(ARTIFACTS.parent / f"box-{command}.log", "w"),
            stderr=subprocess.STDOUT,
        )
        for command in ("serve", "worker")
    ]
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}", data
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)


@pytest.fixture(scope="module")
def page(box_url):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        yield tab
        browser.close()


def test_a_clinic_day_in_the_browser(box_url, page):
    url, data = box_url
    scans = data / "to-upload"
    scans.mkdir()
    filed = save_image(render_page(record_lines(), noise=0.0003), scans / "lab-smith.png", "PNG")
    review = save_image(
        render_page(
            record_lines(
                mrn=None,
                title="REFERRAL LETTER",
                body=["Dear Dr Brown, please review this patient.", "Reason for referral: chest pain."],
            ),
            noise=0.0003,
        ),
        scans / "letter-no-mrn.png",
        "PNG",
    )

    page.goto(url + "/")
    assert page.url.endswith("/login?next=%2F") or "/login" in page.url
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "browser-test-pass")
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")

    page.click("text=Upload")
    page.set_input_files("#file-input", [str(filed), str(review)])
    try:
        page.wait_for_selector(".uploads .state.filed", timeout=240_000)
        page.wait_for_selector(".uploads .state.needs_review", timeout=240_000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "upload.png"), full_page=True)

    page.goto(url + "/")
    page.wait_for_selector("[data-figure=filed_today]")
    assert page.inner_text("[data-figure=filed_today]") == "1"
    assert page.inner_text("[data-figure=needs_review]") == "1"
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    page.goto(url + "/search")
    page.fill("input[name=q]", "haemoglobin")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector(".hit mark")
    assert "Smith, John" in page.inner_text(".results")
    page.screenshot(path=str(ARTIFACTS / "search.png"), full_page=True)

    page.click(".hit")
    page.wait_for_selector(".pages figure img")
    page.wait_for_function(
        "() => document.querySelector('.pages figure img').complete "
        "&& document.querySelector('.pages figure img').naturalWidth > 0"
    )
    assert "MRN 00123456" in page.inner_text(".side")
    page.click("[data-zoom='1']")
    assert page.inner_text("#zoom-level") == "125%"
    page.screenshot(path=str(ARTIFACTS / "viewer.png"))

    page.click("text=Review")
    assert "no MRN found" in page.inner_text("table.list")
    page.click("a.button:has-text('Review')")
    page.fill("#assign-search", "smi")
    page.click("#assign-options li:has-text('Smith, John')")
    page.click("#assign-form button[type=submit]")
    page.wait_for_selector(".flash:has-text('Filed under Smith, John')")
    assert "Nothing is waiting" in page.inner_text("table.list")

    page.goto(url + "/")
    page.wait_for_selector("#idle-warning[open]", timeout=int(IDLE_MINUTES * 60_000))
    assert re.match(r"\d+", page.inner_text("#idle-countdown"))
    page.wait_for_url(re.compile(r".*/login.*"), timeout=int(IDLE_MINUTES * 60_000) + 30_000)
    assert "signed out" in page.inner_text("main")
