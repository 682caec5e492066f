"""A locked box in real headless Chromium: every page leads to the unlock page, the recovery
passphrase typed there unlocks the box under gunicorn, and staff sign in as usual."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_box_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, wait_healthy

PASSPHRASE = "vault-kept-recovery-passphrase-42"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")


def test_the_unlock_page_in_the_browser(tmp_path):
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(tmp_path / "data"),
        APPLIANCE_INBOX=str(tmp_path / "inbox"),
        APPLIANCE_RUNTIME_DIR=str(tmp_path / "run-at-install"),
        APPLIANCE_ENCRYPTION="on",
        APPLIANCE_SEAL_TPM2="off",
        APPLIANCE_BIND=f"127.0.0.1:{port}",
    )
    passphrase_file = tmp_path / "recovery"
    passphrase_file.write_text(PASSPHRASE)
    init = ["init", "--admin-password", "browser-test-pass", "--recovery-passphrase-file", str(passphrase_file)]
    subprocess.run(
        [sys.executable, "-m", "appliance", *init],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    env["APPLIANCE_RUNTIME_DIR"] = str(tmp_path / "run-after-power-cut")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve"],
        cwd=ROOT,
        env=env,
        stdout=open(ARTIFACTS.parent / "box-locked-serve.log", "w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(url + "/search")
            assert page.url == url + "/unlock"
            assert page.get_by_role("heading", name="This box is locked").is_visible()
            page.screenshot(path=str(ARTIFACTS / "box-unlock.png"))
            page.get_by_label("Recovery passphrase").fill("a-wrong-guess-of-the-passphrase")
            page.get_by_role("button", name="Unlock").click()
            assert page.get_by_role("alert").inner_text() == "That passphrase does not open this box."
            page.get_by_label("Recovery passphrase").fill(PASSPHRASE.upper())
            page.get_by_role("button", name="Unlock").click()
            page.wait_for_url(url + "/login")
            assert "The box is unlocked" in page.content()
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill("browser-test-pass")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(url + "/")
            card = page.locator("#sealing").inner_text()
            assert "passphrase only" in card
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert PASSPHRASE not in (ARTIFACTS.parent / "box-locked-serve.log").read_text()
