"""Waiting for a web server that was just started to answer."""

from __future__ import annotations

import time

import requests


def wait_for_http(url: str, timeout: float = 60) -> None:
    """Return once `url` answers 200; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
