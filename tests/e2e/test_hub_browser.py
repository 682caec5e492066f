"""Head office in real headless Chromium (Debian's): sign in, see the clinics, search across them,
open a document with its page image, sign out. Screenshots go to test-artifacts/screenshots/."""

import io
import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from tests.factories import record_lines, render_page
from tests.hub_fixtures import HUB_PASSWORD, enrol_box, file_document
from tests.servers import free_port

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
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")


def test_head_office_signs_in_searches_every_clinic_and_reads_a_document(hub_app, tenants, people):
    for clinic, mrn, name in (("north", "00123456", "SMITH, John"), ("south", "00765432", "OKAFOR, Ada")):
        box = enrol_box(hub_app, tenants[clinic], name=f"{tenants[clinic].name} front desk")
        lines = record_lines(mrn=mrn, name=name)
        scan = io.BytesIO()
        render_page(lines, noise=0).save(scan, format="PNG")
        file_document(box, "\n".join(lines), mrn, last_name=name.split(",")[0].title(), original=scan.getvalue())
    port = free_port()
    server = make_server("127.0.0.1", port, hub_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/search?q=haemoglobin")
            assert "/login" in page.url
            page.fill("input[name=email]", "admin@acme.test")
            page.fill("input[name=password]", HUB_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/search?q=haemoglobin")
            assert page.locator("a.hit").count() == 2
            assert page.locator("mark", has_text="Haemoglobin").count() >= 2
            page.screenshot(path=str(ARTIFACTS / "hub-search.png"), full_page=True)
            page.goto(f"{base}/")
            assert page.locator("text=North front desk").is_visible() and page.locator("text=South").first.is_visible()
            page.screenshot(path=str(ARTIFACTS / "hub-clinics.png"), full_page=True)
            page.goto(f"{base}/search?q=okafor+haemoglobin")
            page.click("a.hit >> nth=0")
            page.wait_for_function(
                "() => { const img = document.querySelector('img.page-image');"
                " return img && img.complete && img.naturalWidth > 0; }"
            )
            assert page.evaluate("document.querySelector('img.page-image').naturalWidth") == 1400
            assert page.locator("text=MRN 00765432").is_visible()
            page.screenshot(path=str(ARTIFACTS / "hub-document.png"))
            page.click("text=Sign out")
            page.wait_for_url(f"{base}/login")
            page.goto(f"{base}/")
            assert "/login" in page.url
            browser.close()
    finally:
        server.shutdown()
