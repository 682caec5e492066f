"""Two-step sign-in in real headless Chromium (Debian's), on the box under gunicorn and at the hub.

An account that must have it cannot finish signing in until it sets it up: the test reads the
QR code shown (decoding it) and computes codes with pyotp as a phone would, then signs out and
in again with password and code; a wrong code is refused; a recovery code works once only.
Screenshots go to test-artifacts/screenshots/.
"""

import base64
import datetime as dt
import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyotp
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from core.waiting import wait_for_http
from tests.hub_fixtures import HUB_PASSWORD
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
BOX_PASSWORD = "browser-test-pass"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")


def secret_from_qr(page) -> str:
    """What a phone reads from the QR code on the page, checked against the key shown beside it."""
    src = page.get_attribute("img.qr", "src")
    assert src.startswith("data:image/png;base64,")
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))
    secret = pyotp.parse_uri(decoded.text).secret
    assert secret == page.inner_text("#totp-secret").strip()
    return secret


def next_code(secret: str) -> str:
    """The code of the next time step (the current one was just used to set up; no replay)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def sign_in(page, base: str, name_field: str, name: str, password: str):
    page.goto(f"{base}/login")
    page.fill(f"input[name={name_field}]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def enter_code(page, code: str):
    page.fill("input[name=code]", code)
    page.click("button[type=submit]")


def sign_out(page, base: str):
    page.click("text=Sign out")
    page.wait_for_url(f"{base}/login")


def two_step_round_trip(page, base: str, name_field: str, name: str, password: str, protected: str, shots: str):
    """Set up at sign-in (nothing else reachable before), then password + code, wrong code, recovery code."""
    sign_in(page, base, name_field, name, password)
    page.wait_for_url(f"{base}/login/setup")
    page.screenshot(path=str(ARTIFACTS / f"{shots}-mfa-setup.png"), full_page=True)
    page.goto(f"{base}{protected}")
    assert "/login" in page.url and "/login/setup" not in page.url
    page.go_back()
    page.wait_for_url(f"{base}/login/setup")
    secret = secret_from_qr(page)
    enter_code(page, "000000")
    assert "not right" in page.inner_text("main")
    enter_code(page, pyotp.TOTP(secret).now())
    page.wait_for_selector("#recovery-codes")
    codes = [item.strip() for item in page.locator("#recovery-codes li").all_inner_texts()]
    assert len(codes) == 10
    page.screenshot(path=str(ARTIFACTS / f"{shots}-recovery-codes.png"), full_page=True)
    page.goto(f"{base}{protected}")
    assert page.url == f"{base}{protected}"
    sign_out(page, base)

    sign_in(page, base, name_field, name, password)
    page.wait_for_url(f"{base}/login/code")
    enter_code(page, "123456")
    assert "not right" in page.inner_text("main")
    page.goto(f"{base}{protected}")
    assert "/login" in page.url
    page.goto(f"{base}/login/code")
    enter_code(page, next_code(secret))
    page.wait_for_url(f"{base}/")
    sign_out(page, base)

    sign_in(page, base, name_field, name, password)
    page.wait_for_url(f"{base}/login/code")
    enter_code(page, codes[4])
    page.wait_for_url(f"{base}/")
    assert "recovery code; 9 left" in page.inner_text("main")
    sign_out(page, base)
    sign_in(page, base, name_field, name, password)
    page.wait_for_url(f"{base}/login/code")
    enter_code(page, codes[4])
    assert "not right" in page.inner_text("main") and page.url == f"{base}/login/code"


@pytest.fixture
def browser_page():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        yield page
        browser.close()


@pytest.fixture
def box_requiring_mfa(tmp_path):
    """The box's web UI under gunicorn, with APPLIANCE_REQUIRE_MFA=true and one admin."""
    port = free_port()
    env = dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(tmp_path / "data"),
        APPLIANCE_INBOX=str(tmp_path / "inbox"),
        APPLIANCE_BIND=f"127.0.0.1:{port}",
        APPLIANCE_REQUIRE_MFA="true",
    )
    subprocess.run(
        [sys.executable, "-m", "appliance", "init", "--admin-password", BOX_PASSWORD],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve"],
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


def test_a_box_admin_must_set_up_mfa_and_then_signs_in_with_it(box_requiring_mfa, browser_page):
    two_step_round_trip(browser_page, box_requiring_mfa, "username", "admin", BOX_PASSWORD, "/admin/users", "box")


def test_an_org_admin_past_the_grace_period_must_set_up_mfa_and_then_signs_in_with_it(hub_app, people, browser_page):
    from cloud_hub.db import database
    from cloud_hub.models import User, utcnow

    with database.connection_context():
        User.update(mfa_grace_from=utcnow() - dt.timedelta(days=30)).where(User.email == "admin@acme.test").execute()
    port = free_port()
    server = make_server("127.0.0.1", port, hub_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        two_step_round_trip(browser_page, base, "email", "admin@acme.test", HUB_PASSWORD, "/users", "hub")
        with database.connection_context():
            assert User.get(User.email == "admin@acme.test").has_mfa
    finally:
        server.shutdown()
