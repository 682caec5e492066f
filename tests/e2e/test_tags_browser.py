"""Tags, notes, bulk actions and a document's history in real headless Chromium, as front-desk
staff use them: tag a document and write a note, find it by the tag, set the type of two of the
patient's documents in one go, read the document's history; then the same pages on a phone."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from tests.e2e.box_server import chromium
from tests.e2e.test_box_browser import ARTIFACTS, CHROMIUM, ROOT, free_port, wait_healthy

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium missing")
PASSWORD = "tags-browser-pass"
PHONE = {"width": 390, "height": 844}
NOTE = "Insurance form posted back on Monday"


def seed(env: dict) -> dict:
    """A patient with two filed lab reports, written into the box's database before it serves."""
    from appliance.box import open_box
    from appliance.config import Config
    from appliance.db import database
    from appliance.models import Patient
    from tests.factories import make_document

    config = Config.from_env(env)
    open_box(config)
    try:
        smith = Patient.create(mrn="00123456", last_name="Smith", first_name="John", dob=dt.date(1975, 3, 14))
        first = make_document(config, patient=smith, texts=("Haemoglobin 13.5 g/dL",), doc_date=dt.date(2024, 4, 2))
        second = make_document(config, patient=smith, texts=("Cholesterol 4.1",), doc_date=dt.date(2024, 5, 9))
        return {"patient": smith.id, "first": first.id, "second": second.id}
    finally:
        database.close()


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    data = tmp_path_factory.mktemp("tags")
    port = free_port()
    env = dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(data / "data"),
        APPLIANCE_INBOX=str(data / "inbox"),
        APPLIANCE_BIND=f"127.0.0.1:{port}",
    )
    subprocess.run(
        [sys.executable, "-m", "appliance", "init", "--admin-password", PASSWORD],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    ids = seed(env)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve"],
        cwd=ROOT,
        env=env,
        stdout=open(ARTIFACTS.parent / "tags-serve.log", "w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}", ids
    finally:
        server.terminate()
        server.wait(timeout=60)


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def signed_in(browser, url: str, viewport: dict):
    tab = browser.new_context(viewport=viewport).new_page()
    tab.set_default_timeout(30_000)
    tab.goto(url + "/login")
    tab.fill("input[name=username]", "admin")
    tab.fill("input[name=password]", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url(url + "/")
    return tab


def test_tag_note_find_bulk_set_type_and_read_the_history(box, browser):
    from playwright.sync_api import expect

    url, ids = box
    tab = signed_in(browser, url, {"width": 1300, "height": 900})

    tab.goto(f"{url}/documents/{ids['first']}")
    card = tab.locator("#tags-notes")
    expect(card).to_contain_text("No tags yet.")
    card.get_by_label("Tags").fill("Insurance, call back")
    card.get_by_label("Note").fill(NOTE)
    card.get_by_role("button", name="Save tags and note").click()
    expect(tab.locator(".flash")).to_contain_text("Tags and note saved.")
    expect(card.locator(".tags a.tag")).to_have_text(["call back", "insurance"])
    expect(card.locator("blockquote.note")).to_have_text(NOTE)

    tab.goto(f"{url}/search?q=insurance")
    noted = tab.locator("section.noted")
    expect(noted).to_contain_text("Tagged or noted")
    expect(noted.locator("mark")).to_have_text(["insurance", "Insurance"])  # the tag, and the note's word
    noted.locator("a.hit").first.click()
    tab.wait_for_url(f"{url}/documents/{ids['first']}#tags-notes")

    tab.goto(f"{url}/patients/{ids['patient']}")
    form = tab.locator("#bulk-form")
    expect(form.locator(".bulk-count")).to_have_text("0 documents selected")
    expect(form.get_by_role("button", name="Apply to selected")).to_be_disabled()
    picks = tab.locator("input.bulk-pick")
    expect(picks).to_have_count(2)
    picks.nth(0).check()
    picks.nth(1).check()
    expect(form.locator(".bulk-count")).to_have_text("2 documents selected")
    assert form.get_by_label("Select all").is_checked()
    form.get_by_label("Action", exact=True).select_option(label="Set type")
    form.get_by_label("Document type", exact=True).select_option(label="Referral")
    form.get_by_role("button", name="Apply to selected").click()
    expect(tab.locator(".flash")).to_contain_text("2 document(s) updated.")
    expect(tab.locator(".timeline-item strong")).to_have_text(["Referral", "Referral"])
    tab.screenshot(path=str(ARTIFACTS / "patient-bulk.png"), full_page=True)

    tab.goto(f"{url}/documents/{ids['first']}")
    history = tab.locator("#history li")
    expect(history.first).to_contain_text("Viewed")
    texts = history.all_inner_texts()
    edited = next(t for t in texts if t.startswith("Edited the details"))
    assert "admin" in edited and "type Lab report → Referral" in edited
    assert any(t.startswith("Changed the tags or the note") for t in texts)
    assert NOTE not in " ".join(texts)  # the history says what was done, not what the note says
    assert [t.split("\n")[0] for t in texts].index("Edited the details") < [t.split("\n")[0] for t in texts].index(
        "Changed the tags or the note"
    )  # newest first
    tab.screenshot(path=str(ARTIFACTS / "document-tags-history.png"), full_page=True)
    tab.context.close()


@pytest.mark.parametrize("page", ["document", "patient", "search"])
def test_tags_bulk_and_history_fit_a_phone(box, browser, page):
    url, ids = box
    tab = signed_in(browser, url, PHONE)
    path = {
        "document": f"/documents/{ids['second']}",
        "patient": f"/patients/{ids['patient']}",
        "search": "/search?q=cholesterol",
    }[page]
    tab.goto(url + path)
    ours = tab.locator("#bulk-form, #tags-notes, #history")
    assert ours.count() == (2 if page == "document" else 1)
    for index in range(ours.count()):
        box_of = ours.nth(index).bounding_box()
        assert box_of["x"] >= 0 and box_of["x"] + box_of["width"] <= PHONE["width"], page
    # The viewer's own head row (zoom and download buttons) is not part of this feature: only
    # the cards above are checked on the document page.
    if page != "document":
        assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page
    tab.screenshot(path=str(ARTIFACTS / f"tags-{page}-phone.png"), full_page=True)
    tab.context.close()
