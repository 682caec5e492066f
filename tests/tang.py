"""A real Tang server (Debian's `tang`) on loopback for tests: tangd behind socat on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

TANGD = Path("/usr/libexec/tangd")
TANGD_KEYGEN = Path("/usr/libexec/tangd-keygen")


def available() -> bool:
    """tangd, its key generator, socat and clevis are installed."""
    return TANGD.exists() and TANGD_KEYGEN.exists() and all(_on_path(tool) for tool in ("socat", "clevis"))


def _on_path(tool: str) -> bool:
    return any((Path(folder) / tool).exists() for folder in os.environ.get("PATH", "").split(os.pathsep))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TangServer:
    """tangd with its own keys in `folder`; `start()` and `stop()` as often as a test needs (same
    port and keys, like a server that goes down and comes back)."""

    def __init__(self, folder: Path):
        self.keys = folder / "tang-keys"
        self.keys.mkdir(parents=True)
        subprocess.run([str(TANGD_KEYGEN), str(self.keys)], check=True, capture_output=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TangServer:
        self.process = subprocess.Popen(
            [
                "socat",
                f"TCP-LISTEN:{self.port},bind=127.0.0.1,reuseaddr,fork",
                f"EXEC:{TANGD} {self.keys}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError("tangd did not start")

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
            self.process = None
