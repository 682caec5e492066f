"""Daily use in real headless Chromium: the dashboard follows a scan dropped into the inbox without
reloading, and every page of the box's own lists is usable at 390 px (navigation behind a Menu
button, tables as cards, nothing wider than the screen). Screenshots go to test-artifacts/."""

from __future__ import annotations

import os

import pytest

from tests.e2e.box_server import box_env, chromium, init_box, serving
from tests.e2e.test_box_browser import ARTIFACTS, CHROMIUM
from tests.factories import record_lines, render_page, save_image

pytestmark = [pytest.mark.ocr, pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium missing")]
PHONE = {"width": 390, "height": 844}
PASSWORD = "daily-browser-pass"


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    data = tmp_path_factory.mktemp("daily")
    env = box_env(data, APPLIANCE_OCR_PROCESSES="1", APPLIANCE_STABLE_SECONDS="0.5")
    init_box(env, PASSWORD)
    with serving(env, "daily") as url:
        yield url, data


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def signed_in(browser, url: str, viewport: dict):
    context = browser.new_context(viewport=viewport)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.goto(url + "/login")
    tab.fill("input[name=username]", "admin")
    tab.fill("input[name=password]", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url(url + "/")
    return tab


def test_the_dashboard_follows_a_dropped_scan_without_reloading(box, browser):

    from playwright.sync_api import expect

    url, data = box
    tab = signed_in(browser, url, {"width": 1300, "height": 900})
    assert tab.inner_text("[data-figure=filed_today]") == "0"
    assert tab.inner_text("#dashboard-updated time") == "just now"
    tab.evaluate("window.stillTheSamePage = true")
    scan = save_image(render_page(record_lines(), noise=0.0003), data / "lab-smith.png", "PNG")
    scan.rename(data / "inbox" / "lab-smith.png")
    expect(tab.locator("[data-figure=filed_today]")).to_have_text("1", timeout=240_000)
    assert tab.inner_text("[data-figure=filed_total]") == "1"  # the two counts agree
    assert tab.evaluate("window.stillTheSamePage") is True  # updated in place, never reloaded
    tab.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    tab.context.close()


@pytest.mark.parametrize("path", ["/", "/patients", "/audit", "/admin/users", "/upload", "/account"])
def test_every_list_page_fits_a_phone(box, browser, path):
    url, _ = box
    tab = signed_in(browser, url, PHONE)
    tab.goto(url + path)
    assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
    assert not tab.is_visible("#main-nav")
    if path == "/audit":
        first = tab.locator("table.list tbody tr").first
        assert (
            first.locator("td").first.evaluate("cell => getComputedStyle(cell, '::before').content") == '"When (UTC)"'
        )
        tab.screenshot(path=str(ARTIFACTS / "audit-phone.png"), full_page=True)
    if path == "/":
        tab.click(".menu-toggle")
        assert tab.is_visible("#main-nav a:has-text('Search')")
        assert tab.get_attribute(".menu-toggle", "aria-expanded") == "true"
        assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        tab.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
    tab.context.close()
