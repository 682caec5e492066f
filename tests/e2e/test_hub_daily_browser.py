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
from tests.hub_fixtures import HUB_PASSWORD
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
    env = dict(os.environ, DATABASE_URL=config.database_url, REDIS_URL=config.redis_url)
    env["HUB_DATA_DIR"] = str(config.data_dir)
    worked = subprocess.run(
        [sys.executable, "-m", "cloud_hub", "worker", "--burst"], cwd=ROOT, env=env, capture_output=True, timeout=120
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
