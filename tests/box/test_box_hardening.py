"""Findings of the outside review on the box: where sign-in leads, what a search leaves in the
audit trail, how long a session lasts, the shared secret key, and a busy database."""

import re

import pytest

from tests.conftest import token_of

# How a browser reads a Location header: it drops tabs and line breaks and takes a backslash for a slash.
BROWSER_DROPS = re.compile(r"[\t\n\r]")


def lands_on_this_site(location: str) -> bool:
    """True when a browser following `location` stays on this site."""
    seen = BROWSER_DROPS.sub("", location).replace("\\", "/")
    return seen.startswith("/") and not seen.startswith("//")


def _sign_in_with_next(app, quoted_next: str):
    client = app.test_client()
    token = token_of(client, "/login")
    return client.post(
        f"/login?next={quoted_next}", data={"username": "bob", "password": "bob-password-12", "csrf_token": token}
    )


@pytest.mark.parametrize(
    "quoted_next", ["/%09/evil.example/x", "/%0d/evil.example", "//evil", "/%5Cevil", "https://evil", "/%0a/evil"]
)
def test_sign_in_never_leads_off_the_box(app, users, quoted_next):
    answer = _sign_in_with_next(app, quoted_next)
    assert answer.status_code == 302
    assert lands_on_this_site(answer.headers["Location"]), answer.headers["Location"]
    assert answer.headers["Location"] == "/"


def test_sign_in_still_leads_to_the_page_asked_for(app, users):
    answer = _sign_in_with_next(app, "/search%3Fq%3Dx")
    assert answer.status_code == 302 and answer.headers["Location"] == "/search?q=x"


def test_a_search_leaves_no_query_words_in_the_audit_trail_or_the_outbox(box, staff_client):
    import json
    import re

    from appliance.models import AuditEvent, Outbox
    from appliance.sync.payloads import item_for
    from tests.factories import make_document

    make_document(box, texts=("Referral for Doe Jane born 1975 cardiology",))
    html = staff_client.get("/search?q=Doe+Jane+1975&type=lab_report").get_data(as_text=True)
    assert "<mark>Doe</mark>" in html
    search = AuditEvent.select().where(AuditEvent.action == "search").get()
    assert search.detail == {"results": 1, "noted": 0, "documents": 1, "page": 1, "filtered": True, "respelled": False}
    trail = [
        json.dumps(item_for("audit", entry.object_key)[0])
        for entry in Outbox.select().where(Outbox.kind == "audit").order_by(Outbox.id)
    ]
    assert any('"action": "search"' in item for item in trail)
    for word in ("Doe", "Jane", "1975"):  # whole words: a hex hash or a timestamp may hold these digits
        assert not any(re.search(rf"\b{word}\b", item) for item in trail), word


def test_a_session_ends_after_its_lifetime_however_busy(box, users):
    import datetime as dt

    from appliance.config import Config
    from appliance.models import WebSession, utcnow
    from appliance.web import create_app
    from tests.conftest import sign_in

    assert Config.from_env({}).session_hours == 12
    lifetime = Config.from_env({"APPLIANCE_SESSION_HOURS": "8"}).session_hours
    client = create_app(box.with_overrides(session_hours=lifetime)).test_client()
    assert sign_in(client, "bob").status_code == 302
    WebSession.update(created_at=utcnow() - dt.timedelta(hours=7, minutes=59)).execute()
    assert client.get("/").status_code == 200
    assert 0 < client.get("/session/status").get_json()["seconds_left"] <= 60
    WebSession.update(created_at=utcnow() - dt.timedelta(hours=8, minutes=1)).execute()
    away = client.get("/")  # active a moment ago, so only the lifetime can end it
    assert away.status_code == 302 and "/login" in away.headers["Location"]
    assert WebSession.get().end_reason == "lifetime over"
    assert b"open for 8 hours" in client.get("/login").data
    assert client.get("/").status_code == 302


# The web app's side of the race: six uploads taken in, and the writes of a busy web app (every
# page view is audited) going on while the worker starts and claims their jobs.
BUSY_WEB_APP = """
import sys, time
from pathlib import Path
from appliance import audit
from appliance.box import open_box
from appliance.config import Config
from appliance.ingest.intake import accept_file

config = Config.from_env()
open_box(config)
for path in sorted(Path(sys.argv[1]).iterdir()):
    staged = config.tmp_dir / f"upload-{path.name}"
    staged.write_bytes(path.read_bytes())
    accept_file(staged, config, source="upload", original_name=path.name, actor="bob")
    staged.unlink(missing_ok=True)
until = time.monotonic() + float(sys.argv[2])
while time.monotonic() < until:
    audit.record("document.view", actor="bob")
"""


def test_six_uploads_arriving_as_the_worker_starts_are_all_processed(box, tmp_path):
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from appliance.models import Scan
    from tests.factories import record_lines, text_layer_pdf

    root = Path(__file__).resolve().parents[2]
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    for n in range(6):
        lines = record_lines(mrn=f"7{n:05d}", name=f"Tester, Six{chr(97 + n)}", dob="1970-01-01")
        text_layer_pdf([*lines, f"Visit {n}"], uploads / f"upload-{n}.pdf")
    env = dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(box.data_dir),
        APPLIANCE_INBOX=str(box.inbox),
        APPLIANCE_OCR_PROCESSES="1",  # the jobs wait longer, so the worker claims while others are pending
        APPLIANCE_STABLE_SECONDS="0.2",
    )
    web = subprocess.Popen([sys.executable, "-c", BUSY_WEB_APP, str(uploads), "8"], cwd=root, env=env)
    worker = subprocess.Popen(
        [sys.executable, "-m", "appliance", "worker"], cwd=root, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert web.wait(timeout=120) == 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            if Scan.select().where(Scan.status == "processed").count() == 6:
                break
            time.sleep(0.5)
        running = worker.poll() is None
    finally:
        worker.terminate()
        errors = worker.communicate(timeout=60)[1]
    assert running, errors[-2000:]
    assert "database is locked" not in errors
    assert sorted(Scan.select(Scan.status).scalars()) == ["processed"] * 6
