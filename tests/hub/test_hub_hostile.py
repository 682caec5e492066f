"""PDFs over the render limits at the hub: the page image route answers a placeholder at once and
the upload job refuses them with the reason, while good pages and uploads go on.

Rendering is limited here to RENDER_SECONDS and RENDER_MEMORY_MB a page (the served hub and the
RQ worker read them from the environment); the times measured are bounds that show a limit
held, not speed benchmarks.
"""

import io
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from PIL import Image

from cloud_hub.db import database
from cloud_hub.models import Document, HubUpload
from core.ingest.views import PLACEHOLDER_SIZE
from tests.factories import fills_pdf, flate_bomb_pdf, record_lines
from tests.hub.test_hub_upload import png, run_worker
from tests.hub_fixtures import HUB_PASSWORD, enrol_box, file_document, sign_in

pytestmark = pytest.mark.ocr
RENDER_SECONDS = 5
RENDER_MEMORY_MB = 512
OVER_THE_LIMITS = {
    "fills.pdf": (fills_pdf, f"rendering page 1 took longer than the {RENDER_SECONDS} s limit"),
    "bomb.pdf": (flate_bomb_pdf, f"rendering page 1 needs more than the {RENDER_MEMORY_MB} MB memory limit"),
}


@pytest.fixture(autouse=True)
def tight_render_limits(monkeypatch):
    """The served hub and the worker render within RENDER_SECONDS and RENDER_MEMORY_MB."""
    monkeypatch.setenv("HUB_RENDER_SECONDS", str(RENDER_SECONDS))
    monkeypatch.setenv("HUB_RENDER_MEMORY_MB", str(RENDER_MEMORY_MB))


def document_with_original(hub_app, clinic, original: bytes, mrn: str) -> int:
    uid = file_document(enrol_box(hub_app, clinic), "Laboratory report", mrn, original=original)
    with database.connection_context():
        return Document.get(Document.uid == uid).id


@pytest.mark.parametrize("name", sorted(OVER_THE_LIMITS))
def test_the_page_image_route_answers_a_placeholder_for_a_page_over_the_render_limits(
    hub_app, tenants, people, served_hub, name
):
    hostile = document_with_original(hub_app, tenants["north"], OVER_THE_LIMITS[name][0](), "501")
    normal = document_with_original(hub_app, tenants["north"], png(["LABORATORY REPORT", "Potassium 4.1"]), "502")
    session = requests.Session()
    signed = session.post(
        f"{served_hub}/api/auth/token", json={"email": "vera@acme.test", "password": HUB_PASSWORD}, timeout=10
    )
    assert signed.status_code == 200
    with ThreadPoolExecutor(max_workers=1) as background:
        started = time.monotonic()
        pending = background.submit(session.get, f"{served_hub}/documents/{hostile}/pages/1/image", timeout=60)
        other = session.get(f"{served_hub}/documents/{normal}/pages/1/image", timeout=60)
        assert other.status_code == 200 and Image.open(io.BytesIO(other.content)).width == 1400
        answer = pending.result()
        elapsed = time.monotonic() - started
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(answer.content)).size == PLACEHOLDER_SIZE
    assert elapsed < RENDER_SECONDS + 5
    started = time.monotonic()
    again = session.get(f"{served_hub}/documents/{hostile}/pages/1/image", timeout=60)
    assert again.content == answer.content and time.monotonic() - started < 2


def test_the_upload_job_refuses_pages_over_the_render_limits_and_files_a_good_upload(hub_app, tenants, people):
    admin = sign_in(hub_app, "admin@acme.test")
    token = admin.get("/upload").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    files = [(io.BytesIO(make()), name) for name, (make, _) in OVER_THE_LIMITS.items()]
    good = png(record_lines(mrn="44556677", name="OKAFOR, Ada", dob="02/03/1961"))
    answer = admin.post(
        "/upload",
        data={"csrf_token": token, "clinic_id": tenants["north"].id, "files": [*files, (io.BytesIO(good), "ok.png")]},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302
    started = time.monotonic()
    run_worker(hub_app)
    elapsed = time.monotonic() - started
    with database.connection_context():
        for name, (_, reason) in OVER_THE_LIMITS.items():
            refused = HubUpload.get(HubUpload.original_name == name)
            assert refused.status == "refused" and reason in refused.reason
        filed = HubUpload.get(HubUpload.original_name == "ok.png")
        assert filed.status == "filed" and Document.get_by_id(filed.document_id).patient.mrn == "44556677"
    assert elapsed < RENDER_SECONDS + 60
    listing = admin.get("/upload").get_data(as_text=True)
    assert "took longer than the 5 s limit" in listing and "needs more than the 512 MB memory limit" in listing
