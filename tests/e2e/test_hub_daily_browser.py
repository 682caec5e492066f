"""Head office's daily round in real headless Chromium (Debian's): an invoice only for a month
that has ended, made after a confirmation; the upload list naming the patient and the patient's
page listing their documents; the clinics and devices pages on a 390 px phone.
Screenshots go to test-artifacts/screenshots/."""

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from cloud_hub import billing
from cloud_hub.db import database
from tests.factories import record_lines, render_page
from tests.hub_fixtures import HUB_PASSWORD, enrol_box, file_document
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync", "--disable-background-networking"]
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")


class Browser:
    """The hub served on a free port and one Chromium page, signed in as `email`."""

    def __init__(self, hub_app, email: str, viewport: dict | None = None):
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, hub_app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.port}"
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.page = self.browser.new_page(viewport=viewport or {"width": 1280, "height": 900})
        self.page.goto(f"{self.base}/login")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", HUB_PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def close(self):
        self.browser.close()
        self.playwright.stop()
        self.server.shutdown()


@pytest.fixture
def browse(hub_app):
    opened = []

    def open_as(email: str, viewport: dict | None = None) -> Browser:
        opened.append(Browser(hub_app, email, viewport))
        return opened[-1]

    yield open_as
    for browser in opened:
        browser.close()


def _work_the_queue(hub_app):
    config = hub_app.extensions["digifort_hub"].config
    if not config.redis_url:
        return
    env = dict(os.environ, DATABASE_URL=config.database_url, REDIS_URL=config.redis_url, S3_BUCKET=config.s3_bucket)
    env.update(S3_ENDPOINT_URL=config.s3_endpoint_url, S3_REGION=config.s3_region, HUB_DATA_DIR=str(config.data_dir))
    worked = subprocess.run(
        [sys.executable, "-m", "cloud_hub", "worker", "--burst"], cwd=ROOT, env=env, capture_output=True, timeout=300
    )
    assert worked.returncode == 0, worked.stderr


def test_an_invoice_is_made_only_for_an_ended_month_and_after_confirming(hub_app, tenants, people, browse):
    today = billing.utcnow().date()
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=3)
    with database.connection_context():
        billing.meter(tenants["acme"].id, 0, pages=40, day=last_month)
    page = browse("bill@acme.test").page
    base = page.url.split("/billing")[0]
    page.goto(f"{base}/billing?month={today:%Y-%m}")
    assert page.locator("#not-ended").is_visible()
    assert "has not ended yet" in page.locator("#not-ended").inner_text()
    assert page.get_by_role("button", name="Make the invoice").count() == 0
    page.fill("input[name=month]", f"{last_month:%Y-%m}")
    page.click("text=Show")
    page.get_by_role("button", name=f"Make the invoice for {last_month:%Y-%m}").click()
    assert page.get_by_role("heading", name=f"Make the invoice for {last_month:%Y-%m}?").is_visible()
    assert page.locator("#confirm-total").inner_text() == "GBP 0.80"
    page.click("text=Cancel")
    assert page.locator("text=No invoices yet.").is_visible()
    page.get_by_role("button", name=f"Make the invoice for {last_month:%Y-%m}").click()
    page.get_by_role("button", name="Yes, make the invoice").click()
    assert page.locator(".flash", has_text=f"Invoice for {last_month:%Y-%m}").is_visible()
    _work_the_queue(hub_app)
    page.reload()
    row = page.locator("table.list tbody tr").first
    assert row.locator("td[data-label=Month]").inner_text() == f"{last_month:%Y-%m}"
    assert row.locator("td[data-label=Total]").inner_text() == "GBP 0.80"
    assert page.locator("text=was made on").is_visible()
    assert page.get_by_role("button", name="Make the invoice").count() == 0
    page.screenshot(path=str(ARTIFACTS / "hub-billing.png"), full_page=True)


def test_an_upload_names_its_patient_whose_page_lists_their_documents(hub_app, tenants, people, browse, tmp_path):
    scan = tmp_path / "okafor-letter.png"
    render_page(record_lines(mrn="44556677", name="OKAFOR, Ada", dob="02/03/1961"), noise=0.0003).save(
        scan, format="PNG", dpi=(300, 300)
    )
    page = browse("admin@acme.test").page
    base = page.url.rstrip("/")
    page.goto(f"{base}/upload")
    page.select_option("select[name=clinic_id]", label="North")
    page.set_input_files("input[name=files]", str(scan))
    page.click("button:has-text('Upload')")
    assert page.locator(".flash", has_text="1 file(s) received").is_visible()
    _work_the_queue(hub_app)
    page.reload()
    row = page.locator("table.list tbody tr", has_text="okafor-letter.png")
    assert row.locator("td[data-label=State]").inner_text().startswith("filed to Okafor, Ada MRN 44556677")
    page.screenshot(path=str(ARTIFACTS / "hub-upload.png"), full_page=True)
    row.get_by_role("link", name="Okafor, Ada").click()
    assert page.get_by_role("heading", name="Okafor, Ada").is_visible()
    documents = page.locator("table.list tbody tr")
    assert documents.count() == 1 and documents.first.locator("td[data-label=Clinic]").inner_text() == "North"
    page.screenshot(path=str(ARTIFACTS / "hub-patient.png"), full_page=True)
    documents.first.locator("td[data-label=Document] a").click()
    assert page.locator("text=MRN 44556677").is_visible() and "/documents/" in page.url
    page.get_by_role("link", name="Okafor, Ada").click()
    assert page.get_by_role("heading", name="Okafor, Ada").is_visible()


def test_the_clinics_and_devices_pages_fit_a_phone(hub_app, tenants, people, browse):
    box = enrol_box(hub_app, tenants["north"], name="North front desk with a long name")
    file_document(box, "Laboratory report", "00123456")
    phone = browse("admin@acme.test", viewport={"width": 390, "height": 844}).page
    base = phone.url.rstrip("/")
    for path, shot in (("/", "hub-clinics-phone.png"), ("/devices", "hub-devices-phone.png")):
        phone.goto(f"{base}{path}")
        phone.screenshot(path=str(ARTIFACTS / shot), full_page=True)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, path
    phone.goto(f"{base}/")
    north = phone.locator("section.clinic", has_text="North")
    assert north.locator(".review-count").is_visible() and north.locator(".quarantine-count").is_visible()
    assert north.locator("td[data-label=Quarantine]").is_visible()
    phone.goto(f"{base}/devices")
    assert phone.get_by_role("button", name="Revoke").is_visible()
    revoke = phone.get_by_role("button", name="Revoke").bounding_box()
    assert revoke["x"] >= 0 and revoke["x"] + revoke["width"] <= 390
