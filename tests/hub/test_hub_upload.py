"""Upload at the hub: an RQ job reads the file with the box's pipeline and files it."""

import io
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from cloud_hub.db import database
from cloud_hub.models import Document, HubUpload
from tests.factories import record_lines, render_page
from tests.hub_fixtures import sign_in

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.ocr


def run_worker(hub_app):
    config = hub_app.extensions["digifort_hub"].config
    env = dict(
        os.environ,
        DATABASE_URL=config.database_url,
        REDIS_URL=config.redis_url,
        S3_BUCKET=config.s3_bucket,
        S3_ENDPOINT_URL=config.s3_endpoint_url,
        S3_REGION=config.s3_region,
        HUB_DATA_DIR=str(config.data_dir),
    )
    worked = subprocess.run(
        [sys.executable, "-m", "cloud_hub", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worked.returncode == 0, worked.stderr


def png(lines) -> bytes:
    buffer = io.BytesIO()
    render_page(lines, noise=0.0003).save(buffer, format="PNG", dpi=(300, 300))
    return buffer.getvalue()


def test_an_upload_is_ocred_by_the_worker_and_filed_under_the_clinic(hub_app, hub_config, tenants, people):
    admin = sign_in(hub_app, "admin@acme.test")
    page = admin.get("/upload").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    scan = png(record_lines(mrn="44556677", name="OKAFOR, Ada", dob="02/03/1961"))
    answer = admin.post(
        "/upload",
        data={
            "csrf_token": token,
            "clinic_id": tenants["north"].id,
            "files": [(io.BytesIO(scan), "okafor.png"), (io.BytesIO(b"not a scan"), "notes.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302
    run_worker(hub_app)
    with database.connection_context():
        filed, refused = (HubUpload.get(HubUpload.original_name == name) for name in ("okafor.png", "notes.pdf"))
        assert filed.status == "filed" and refused.status == "refused" and "not a scan" in refused.reason
        document = Document.get_by_id(filed.document_id)
        assert document.patient.mrn == "44556677" and document.patient.last_name == "Okafor"
        assert document.clinic_id == tenants["north"].id and "Haemoglobin" in document.pages[0].text
    s3 = boto3.client("s3", endpoint_url=hub_config.s3_endpoint_url, region_name=hub_config.s3_region)
    key = f"{tenants['acme'].uid}/blobs/{filed.sha256[:2]}/{filed.sha256}"
    assert s3.get_object(Bucket=hub_config.s3_bucket, Key=key)["Body"].read() == scan
    listing = admin.get("/upload").get_data(as_text=True)
    assert "okafor.png" in listing and "not a scan" in listing
    assert (
        f'filed</span>\n      to <a class="patient-link" href="/patients/{document.patient_id}">Okafor, Ada</a>'
        in listing
    )
    chart = admin.get(f"/patients/{document.patient_id}").get_data(as_text=True)
    assert f'href="/documents/{document.id}"' in chart and "okafor.png" in chart
    other_clinic = admin.post(
        "/upload",
        data={"csrf_token": token, "clinic_id": tenants["elsewhere"].id, "files": [(io.BytesIO(scan), "x.png")]},
        content_type="multipart/form-data",
    )
    assert other_clinic.status_code == 404
