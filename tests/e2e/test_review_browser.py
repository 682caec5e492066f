"""Review as one decision in real headless Chromium, against gunicorn and the real worker
(real Tesseract) on generated scans: the keyboard alone files a document with the patient
combobox; a junk page goes to the trash and comes back with Undo; the page fits a 390 px phone.

Screenshots: test-artifacts/screenshots/review.png (desktop) and review-phone.png (390 px).
"""

import os
import subprocess
import sys
import time

import pytest

from tests.e2e.box_server import chromium
from tests.e2e.test_box_browser import ARTIFACTS, CHROMIUM, ROOT, free_port, wait_healthy
from tests.factories import record_lines, render_page, save_image

pytestmark = [pytest.mark.ocr, pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium missing")]
PASSWORD = "review-test-pass"
LOADED = "() => [...document.querySelectorAll('.pages img')].every((img) => img.complete && img.naturalWidth > 0)"
REGISTER = "mrn,last_name,first_name,dob\n00123456,Smith,John,1975-03-14\n00555111,Smithers,Wayland,1961-07-30\n"


def run_box(command: list[str], env: dict):
    subprocess.run([sys.executable, "-m", "appliance", *command], cwd=ROOT, env=env, check=True, capture_output=True)


@pytest.fixture(scope="module")
def box_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("review-box")
    port = free_port()
    env = dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(data / "data"),
        APPLIANCE_INBOX=str(data / "inbox"),
        APPLIANCE_OCR_PROCESSES="2",
        APPLIANCE_BIND=f"127.0.0.1:{port}",
    )
    run_box(["init", "--admin-password", PASSWORD], env)
    (data / "register.csv").write_text(REGISTER)
    run_box(["patients", "import", str(data / "register.csv")], env)
    inbox = data / "inbox"
    inbox.mkdir(exist_ok=True)
    # The MRN names Smith, but the date of birth read contradicts his record: review, Smith suggested.
    save_image(render_page(record_lines(dob="14/04/1975"), noise=0.0003), inbox / "a-lab-smith-wrong-dob.png", "PNG")
    # A fax cover sheet: nothing identifying, not a patient document.
    save_image(
        render_page(
            ["FAX COVER SHEET", "", "To: Records department", "Pages: 1", "Please call if unreadable."], noise=0.0003
        ),
        inbox / "b-fax-cover.png",
        "PNG",
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "appliance", command],
            cwd=ROOT,
            env=env,
            stdout=open(ARTIFACTS.parent / f"review-box-{command}.log", "w"),
            stderr=subprocess.STDOUT,
        )
        for command in ("serve", "worker")
    ]
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def signed_in(browser, url, **context):
    page = browser.new_context(**context).new_page()
    page.set_default_timeout(30_000)
    page.goto(url + "/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(url + "/")
    return page


def wait_for_review_queue(page, url, count: int):
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        page.goto(url + "/review")
        if page.locator("table.list a.button:has-text('Review')").count() >= count:
            return
        time.sleep(2)
    raise AssertionError("the scans did not reach the review queue")


def wait_until(page, predicate: str, seconds: float = 30):
    """Poll `predicate` with page.evaluate (wait_for_function evaluates strings, which the CSP refuses)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"never true: {predicate}")
        time.sleep(0.2)


def tab_to(page, selector: str, presses: int = 80):
    """Press Tab until `selector` has the focus, as a keyboard user would."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def covered(page, selector: str) -> bool:
    """True when something else is drawn over the middle of `selector`."""
    return page.evaluate(
        """(s) => { const el = document.querySelector(s); el.scrollIntoView({block: 'center'});
        const r = el.getBoundingClientRect();
        const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return !(top === el || el.contains(top)); }""",
        selector,
    )


def test_keyboard_only_review_trash_with_undo_and_a_phone_view(box_url, browser):
    url = box_url
    page = signed_in(browser, url, viewport={"width": 1400, "height": 1150})
    wait_for_review_queue(page, url, 2)
    page.click("table.list tr:has-text('a-lab-smith-wrong-dob') a.button:has-text('Review')")
    page.wait_for_selector(".review")
    first_url = page.url

    # What was read sits beside Smith's record, field by field, the wrong date of birth marked.
    assert " of 2 waiting" in page.inner_text(".queue-nav")
    suggestion = page.locator(".suggestion").first
    assert "Smith, John" in suggestion.inner_text()
    assert "1975-04-14" in suggestion.locator("tr.differs").inner_text()
    assert "≠ differs" in suggestion.locator("tr.differs").inner_text()
    assert suggestion.locator("tr.same").count() >= 1
    page.click(".new-patient summary")
    assert page.input_value(".new-patient input[name=mrn]") == "00123456"
    assert page.input_value(".new-patient input[name=dob]") == "1975-04-14"
    page.click(".new-patient summary")
    wait_until(page, LOADED)
    page.screenshot(path=str(ARTIFACTS / "review.png"))

    combo = "#assign-search"
    page.locator("body").click(position={"x": 5, "y": 200})
    tab_to(page, combo)
    # Enter with no patient chosen sends nothing.
    page.keyboard.type("zzzz")
    page.wait_for_selector("#assign-options li.none")
    page.keyboard.press("Enter")
    assert page.url == first_url and "Choose a patient" in page.inner_text("#assign-hint")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    assert page.input_value(combo) == ""

    page.keyboard.type("smith")
    page.wait_for_selector("#assign-options li[role=option]")
    assert page.get_attribute(combo, "aria-expanded") == "true"
    assert page.locator("#assign-options [role=option]").count() == 2
    assert not covered(page, "#assign-form button[type=submit]")  # the list does not hide the File button
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    second = page.get_attribute(combo, "aria-activedescendant")
    assert second == "assign-options-1" and "Smithers" in page.inner_text(f"#{second}")
    page.keyboard.press("ArrowUp")
    assert page.get_attribute(combo, "aria-activedescendant") == "assign-options-0"
    assert page.get_attribute("#assign-options-0", "aria-selected") == "true"
    page.keyboard.press("Escape")
    assert page.get_attribute(combo, "aria-expanded") == "false" and page.is_hidden("#assign-options")
    page.keyboard.press("ArrowDown")  # opens the list again on its first option
    assert page.get_attribute(combo, "aria-activedescendant") == "assign-options-0"
    page.keyboard.press("Enter")  # picks the highlighted patient, does not send the form
    assert page.url == first_url
    assert page.input_value(combo).startswith("Smith, John · MRN 00123456")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "File under this patient"
    page.keyboard.press("Enter")
    page.wait_for_selector(".flash:has-text('Filed under Smith, John')")
    # On to the next document waiting, without going back to the list.
    assert "1 of 1" in page.inner_text(".queue-nav") and "b-fax-cover.png" in page.inner_text(".side")
    junk_url = page.url.split("?")[0]

    tab_to(page, "input[value=not_patient_document] + button")
    page.keyboard.press("Enter")
    page.wait_for_selector(".flash.undo")
    assert "Nothing is waiting" in page.inner_text("table.list")
    page.click(".flash.undo button:has-text('Undo')")
    page.wait_for_selector(".flash:has-text('is back (needs review)')")
    assert page.url == junk_url
    page.click("button:has-text('Discard')")
    page.wait_for_selector(".flash.undo")
    page.goto(url + "/trash")
    assert "b-fax-cover.png" in page.inner_text("table.list") and "Discarded" in page.inner_text("table.list")
    page.goto(url + "/search?q=records+department")
    assert page.locator(".hit").count() == 0
    page.goto(url + "/trash")
    page.click("table.list button:has-text('Restore')")
    page.wait_for_selector(".flash:has-text('is back')")
    page.goto(url + "/review")
    assert "b-fax-cover.png" in page.inner_text("table.list")

    phone = signed_in(browser, url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.goto(junk_url)
    phone.wait_for_selector(".review")
    wait_until(phone, LOADED)
    width = phone.evaluate("document.documentElement.scrollWidth")
    phone.screenshot(path=str(ARTIFACTS / "review-phone.png"), full_page=False)
    assert width <= 390, f"the review page is {width} px wide on a 390 px phone"
    assert phone.locator(".review").bounding_box()["y"] < phone.locator(".pages").bounding_box()["y"]
