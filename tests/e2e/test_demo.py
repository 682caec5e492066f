"""`make demo` (python -m demo): box UI, worker, hub and sync agent come up, the printed
logins work, and a scan dropped into the printed inbox is filed on the box and then at the hub.

The demo runs from another working directory with its relative default folders, and the page
image, thumbnail and original are fetched from both UIs (they once answered 500 that way)."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from core.waiting import wait_for_http
from tests.factories import record_lines, render_page, save_image
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.ocr


def test_a_scan_dropped_into_the_demo_inbox_is_filed_on_the_box_and_then_at_the_hub(tmp_path):
    box_port, hub_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "S3_BUCKET", "APPLIANCE_DATA_DIR", "APPLIANCE_INBOX")
    }
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env.update(
        PYTHONPATH=str(ROOT),
        APPLIANCE_BIND=f"127.0.0.1:{box_port}",
        HUB_BIND=f"127.0.0.1:{hub_port}",
        APPLIANCE_OCR_PROCESSES="1",
        APPLIANCE_RUNTIME_DIR=str(runtime),
    )
    demo = subprocess.Popen(
        [sys.executable, "-m", "demo"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, deadline = "", time.monotonic() + 60
        while "Stop with Ctrl-C" not in output and time.monotonic() < deadline:
            output += demo.stdout.readline()
        box_login = re.search(r"Box web UI:.*\n\s+Sign in as:\s+(\S+) / (\S+)", output)
        hub_login = re.search(r"Hub \(head office\):.*\n\s+Sign in as:\s+(\S+) / (\S+)", output)
        assert box_login and hub_login, output
        assert str(tmp_path / "demo-data" / "inbox") in output
        wait_for_http(f"http://127.0.0.1:{hub_port}/login")
        assert requests.get(f"http://127.0.0.1:{box_port}/login", timeout=5).ok
        hub = requests.Session()
        signed = hub.post(
            f"http://127.0.0.1:{hub_port}/api/auth/token",
            timeout=5,
            json={"email": hub_login.group(1), "password": hub_login.group(2)},
        )
        assert signed.status_code == 200 and signed.json()["user"]["role"] == "org_admin"
        save_image(
            render_page(record_lines(mrn="27182818", name="EULER, Leonhard", dob="15/04/1970"), noise=0.0003),
            tmp_path / "scan.png",
            "PNG",
        )
        (tmp_path / "scan.png").rename(tmp_path / "demo-data" / "inbox" / "scan.png")
        found, deadline = [], time.monotonic() + 120
        while not found and time.monotonic() < deadline:
            time.sleep(1)
            found = hub.get(
                f"http://127.0.0.1:{hub_port}/api/v1/documents", params={"q": "euler haemoglobin"}, timeout=5
            ).json()["results"]
        assert found and found[0]["patient"]["mrn"] == "27182818"
        hub_document = found[0]["document_id"]
        image = hub.get(f"http://127.0.0.1:{hub_port}/documents/{hub_document}/pages/1/image", timeout=30)
        assert image.status_code == 200 and image.headers["Content-Type"] == "image/jpeg"
        original = hub.get(f"http://127.0.0.1:{hub_port}/api/v1/storage/documents/{hub_document}/original", timeout=30)
        assert original.status_code == 200 and original.content[:4] == b"\x89PNG"
        box = requests.Session()
        base = f"http://127.0.0.1:{box_port}"
        form = box.get(f"{base}/login", timeout=5).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        box.post(
            f"{base}/login",
            timeout=10,
            data={"csrf_token": token, "username": box_login.group(1), "password": box_login.group(2)},
        )
        hit = re.search(r'href="/documents/(\d+)', box.get(f"{base}/search", params={"q": "euler"}, timeout=10).text)
        assert hit, "the demo scan is not found in the box's search"
        page_id = re.search(r"/pages/(\d+)/image", box.get(f"{base}/documents/{hit.group(1)}", timeout=10).text)
        for part in (f"pages/{page_id.group(1)}/image", f"pages/{page_id.group(1)}/thumbnail", "original"):
            answer = box.get(f"{base}/documents/{hit.group(1)}/{part}", timeout=30)
            assert answer.status_code == 200, (part, answer.status_code)
            assert answer.content.startswith(b"\x89PNG" if part == "original" else b"\xff\xd8"), part
        assert "Encrypted at rest: yes" in output
        for path in (tmp_path / "demo-data" / "box").rglob("*"):  # the demo box encrypts, like a real one
            assert not path.is_file() or b"27182818" not in path.read_bytes(), path
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
