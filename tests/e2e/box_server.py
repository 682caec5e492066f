"""A real box for the browser tests: its settings, `init` with an admin, gunicorn and the worker
as processes of their own (logs under test-artifacts/), and headless Debian Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.test_box_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, wait_healthy


def box_env(data: Path, **settings: str) -> dict[str, str]:
    """The environment of a box whose folders are under `data`, on a free port (APPLIANCE_BIND)."""
    return dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(data / "data"),
        APPLIANCE_INBOX=str(data / "inbox"),
        APPLIANCE_BIND=f"127.0.0.1:{free_port()}",
        **settings,
    )


def init_box(env: dict[str, str], password: str) -> None:
    """`python -m appliance init` with the admin user `admin` and `password`."""
    command = [sys.executable, "-m", "appliance", "init", "--admin-password", password]
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)


@contextmanager
def serving(env: dict[str, str], name: str, commands: tuple[str, ...] = ("serve", "worker")) -> Iterator[str]:
    """Run the box's `commands` until the block ends; yields the web UI's URL once it answers."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "appliance", command],
            cwd=ROOT,
            env=env,
            stdout=open(ARTIFACTS.parent / f"{name}-{command}.log", "w"),
            stderr=subprocess.STDOUT,
        )
        for command in commands
    ]
    url = f"http://{env['APPLIANCE_BIND']}"
    try:
        wait_healthy(url)
        yield url
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)


@contextmanager
def chromium() -> Iterator:
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
