"""Finding a document in real headless Chromium against gunicorn and a real worker with real
Tesseract: results grouped by document with a count, a hit on page 2 opening the viewer at page 2
with the word marked on the page image and in its text, a typo answered with the closest word,
and search and viewer on a 390 px phone. Screenshots go to test-artifacts/screenshots/."""

from pathlib import Path

import pytest

from tests.e2e.box_server import box_env, chromium, init_box, serving
from tests.e2e.test_box_browser import ARTIFACTS, CHROMIUM
from tests.factories import record_lines, render_page, save_pdf

PHONE = {"width": 390, "height": 844}
pytestmark = [pytest.mark.ocr, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium missing")]


@pytest.fixture(scope="module")
def box_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("box")
    env = box_env(data, APPLIANCE_OCR_PROCESSES="2")
    init_box(env, "browser-test-pass")
    with serving(env, "search-box") as url:
        yield url, data


def scans(folder):
    """A three-page lab report with ferritin on pages 2 and 3 (most on 2), and a letter naming it once."""
    folder.mkdir()
    report = [
        render_page(record_lines(), noise=0.0003),
        render_page(
            ["RESULTS CONTINUED", "", "Ferritin 9 ug/L, low.", "Repeat ferritin and iron studies in June."],
            noise=0.0003,
        ),
        render_page(["NOTES", "", "Iron tablets started; ferritin to follow.", "Blood pressure 132/84."], noise=0.0003),
    ]
    letter = [
        render_page(
            record_lines(title="REFERRAL LETTER", body=["Dear Dr Brown,", "Low ferritin noted, please advise."]),
            noise=0.0003,
        )
    ]
    return [save_pdf(report, folder / "lab-report.pdf"), save_pdf(letter, folder / "referral.pdf")]


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def signed_in(browser, url, viewport):
    tab = browser.new_context(viewport=viewport).new_page()
    tab.set_default_timeout(30_000)
    tab.goto(url + "/login")
    tab.fill("input[name=username]", "admin")
    tab.fill("input[name=password]", "browser-test-pass")
    tab.click("button[type=submit]")
    tab.wait_for_url(url + "/")
    return tab


def search_for(tab, words):
    tab.fill("input[name=q]", words)
    tab.press("input[name=q]", "Enter")
    tab.wait_for_selector(".result-count")


@pytest.fixture(scope="module")
def filed(box_url, browser):
    url, data = box_url
    tab = signed_in(browser, url, {"width": 1400, "height": 900})
    tab.click("text=Upload")
    tab.set_input_files("#file-input", [str(path) for path in scans(data / "search-scans")])
    done = "() => document.querySelectorAll('.uploads .state.filed, .uploads .state.needs_review').length == 2"
    tab.wait_for_function(done, timeout=300_000)
    return url, tab


def test_grouped_results_and_a_hit_on_page_2_open_the_viewer_there_with_the_word_marked(filed):
    url, tab = filed
    tab.goto(url + "/search")
    search_for(tab, "ferritin")
    assert tab.inner_text(".result-count") == "2 documents · 3 matching pages"
    assert tab.locator(".hit").count() == 2
    best = tab.locator(".hit").first
    assert "Best match on page 2 · 2 matching pages (2, 3)" in best.inner_text()
    assert best.locator("mark").first.inner_text().lower() == "ferritin"
    thumbnails = "() => [...document.querySelectorAll('.hit-thumb')].every((i) => i.complete && i.naturalWidth > 0)"
    tab.wait_for_function(thumbnails)
    tab.screenshot(path=str(ARTIFACTS / "search.png"), full_page=True)

    best.click()
    tab.wait_for_url("**/documents/*?page=2&q=ferritin#page-2")
    figure = tab.locator("figure#page-2")
    tab.wait_for_function(
        "() => { const i = document.querySelector('#page-2 img'); return i.complete && i.naturalWidth > 0; }"
    )
    assert "focus" in figure.get_attribute("class")
    boxes = figure.locator("svg.page-hits rect")
    assert boxes.count() >= 2  # "Ferritin" and "ferritin" on the image
    image = figure.locator("img").bounding_box()
    for n in range(boxes.count()):
        mark = boxes.nth(n).bounding_box()
        assert image["x"] <= mark["x"] and mark["x"] + mark["width"] <= image["x"] + image["width"] + 1
        assert image["y"] <= mark["y"] and mark["y"] + mark["height"] <= image["y"] + image["height"] + 1
        assert 5 < mark["height"] < image["height"] / 10  # a word, not the page
    assert figure.locator(".ocr[open] mark").first.inner_text().lower() == "ferritin"
    assert "2 hits for “ferritin”" in figure.locator("figcaption").inner_text()
    pages_box = tab.locator("#pages").bounding_box()
    shown = figure.bounding_box()
    assert pages_box["y"] - 2 <= shown["y"] < pages_box["y"] + pages_box["height"] / 2  # scrolled to page 2
    assert tab.locator("figure#page-1 svg.page-hits").count() == 0
    tab.screenshot(path=str(ARTIFACTS / "viewer.png"))


def test_a_typo_is_answered_with_the_closest_word(filed):
    url, tab = filed
    tab.goto(url + "/search")
    search_for(tab, "feritin")
    assert "Nothing matches “feritin”. Showing results for “ferritin”." in tab.inner_text(".respelled")
    assert tab.locator(".hit").count() == 2


def test_a_quoted_phrase_finds_only_the_words_side_by_side(filed):
    url, tab = filed
    tab.goto(url + "/search")
    search_for(tab, "ferritin iron")
    assert tab.locator(".hit").count() == 1
    search_for(tab, '"ferritin iron"')
    assert "No pages contain" in tab.inner_text(".result-count")
    search_for(tab, '"iron studies"')
    assert tab.inner_text(".result-count") == "1 document · 1 matching page"


def test_search_and_the_viewer_fit_a_phone(filed, browser):
    url, _ = filed
    tab = signed_in(browser, url, PHONE)
    tab.goto(url + "/search?q=ferritin")
    tab.wait_for_selector(".hit")
    assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    tab.screenshot(path=str(ARTIFACTS / "search-phone.png"), full_page=True)
    tab.locator(".hit").first.click()
    tab.wait_for_selector("#page-2 svg.page-hits rect")
    assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    tab.locator("#page-2 svg.page-hits rect").first.scroll_into_view_if_needed()
    tab.screenshot(path=str(ARTIFACTS / "viewer-phone.png"))
