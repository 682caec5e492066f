"""Handing documents over, in real headless Chromium against gunicorn and a real worker with real
Tesseract: a person uploads a scan, downloads its searchable PDF from the viewer and exports the
patient's chart from the patient page; the downloaded files are opened and read back.
Screenshots of the export form (desktop and phone) go under test-artifacts/screenshots/.
"""

import io
import os

import pypdf
import pytest

from tests.e2e.box_server import box_env, chromium, init_box, serving
from tests.e2e.test_box_browser import ARTIFACTS, CHROMIUM
from tests.factories import record_lines, render_page, save_tiff

pytestmark = [pytest.mark.ocr, pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium missing")]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def box_url(tmp_path_factory):
    data = tmp_path_factory.mktemp("box")
    env = box_env(data, APPLIANCE_OCR_PROCESSES="2")
    init_box(env, "browser-test-pass")
    with serving(env, "pdf-box") as url:
        yield url, data


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def downloaded(page, click) -> tuple[str, pypdf.PdfReader]:
    """Click what starts a download; the file's suggested name and the file read as a PDF."""
    with page.expect_download() as info:
        click()
    download = info.value
    return download.suggested_filename, pypdf.PdfReader(io.BytesIO(open(download.path(), "rb").read()))


def test_a_person_downloads_a_searchable_pdf_and_exports_a_chart(box_url, browser):
    url, data = box_url
    scans = data / "to-upload"
    scans.mkdir()
    continued = ["CONTINUATION SHEET", "", "Haemoglobin rechecked after two weeks, unchanged."]
    scan = save_tiff([render_page(record_lines(), noise=0.0003), render_page(continued, seed=3)], scans / "lab.tif")

    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url + "/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "browser-test-pass")
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")
    page.click("text=Upload")
    page.set_input_files("#file-input", [str(scan)])
    page.wait_for_selector(".uploads .state.filed", timeout=240_000)

    page.goto(url + "/patients")
    page.click("text=Smith, John")
    page.click(".timeline a")
    page.wait_for_selector(".pages figure img")
    name, pdf = downloaded(page, lambda: page.click("a:has-text('Searchable PDF')"))
    assert name.startswith("document-") and name.endswith(".pdf")
    assert len(pdf.pages) == 2
    assert "Haemoglobin 13.5 g/dL" in pdf.pages[0].extract_text()
    assert "rechecked after two weeks" in pdf.pages[1].extract_text()

    page.click(".side a:has-text('Smith, John')")
    patient_url = page.url
    page.click("#chart-export summary")
    page.fill("input[name=date_from]", "2024-01-01")
    page.fill("input[name=date_to]", "2024-12-31")
    page.select_option("select[name=purpose]", "patient_request")
    page.screenshot(path=str(ARTIFACTS / "chart-export.png"), full_page=True)
    name, chart = downloaded(page, lambda: page.click("#chart-export button[type=submit]"))
    assert name.startswith("chart-patient-") and name.endswith(".pdf")
    titles = [item.title for item in chart.outline]
    assert titles[0] == "Cover" and len(titles) == 2 and titles[1].startswith("Lab report 2024-04-02 (document ")
    assert [chart.get_destination_page_number(item) for item in chart.outline] == [0, 1]
    cover = chart.pages[0].extract_text()
    for fact in ("Patient chart", "Smith, John", "00123456", "2024-01-01 to 2024-12-31", "1 (2 pages)", "admin"):
        assert fact in cover
    assert "Haemoglobin 13.5 g/dL" in chart.pages[1].extract_text()

    page.goto(url + "/audit")
    assert "patient.export_chart" in page.inner_text("main")

    page.set_viewport_size(PHONE)
    page.goto(patient_url)
    page.wait_for_selector("#chart-export")
    if not page.is_visible("#chart-export form"):
        page.click("#chart-export summary")
    page.screenshot(path=str(ARTIFACTS / "chart-export-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.is_visible("#chart-export button[type=submit]")
    context.close()
