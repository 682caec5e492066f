"""Findings of the outside review at the hub: where sign-in leads, download headers, forwarded
addresses, the backup message and the page-image cache."""

import re

import pytest
import requests
from werkzeug.http import parse_options_header

from tests.hub_fixtures import HUB_PASSWORD, enrol_box, file_document, sign_in

BROWSER_DROPS = re.compile(r"[\t\n\r]")


def lands_on_this_site(location: str) -> bool:
    """True when a browser following `location` stays on this site (it drops tabs and line breaks, reads \\ as /)."""
    seen = BROWSER_DROPS.sub("", location).replace("\\", "/")
    return seen.startswith("/") and not seen.startswith("//")


def _sign_in_with_next(hub_app, quoted_next: str):
    client = hub_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post(
        f"/login?next={quoted_next}", data={"email": "admin@acme.test", "password": HUB_PASSWORD, "csrf_token": token}
    )


@pytest.mark.parametrize(
    "quoted_next", ["/%09/evil.example/x", "/%0d/evil.example", "//evil", "/%5Cevil", "https://evil", "/%0a/evil"]
)
def test_sign_in_never_leads_off_the_hub(hub_app, people, quoted_next):
    answer = _sign_in_with_next(hub_app, quoted_next)
    assert answer.status_code == 302
    assert lands_on_this_site(answer.headers["Location"]), answer.headers["Location"]
    assert answer.headers["Location"] == "/"


def test_sign_in_still_leads_to_the_page_asked_for(hub_app, people):
    answer = _sign_in_with_next(hub_app, "/search%3Fq%3Dx")
    assert answer.status_code == 302 and answer.headers["Location"] == "/search?q=x"


HOSTILE_NAME = 'scan"; x=y\r\nSet-Cookie: a=b.pdf'


def _download_is_one_safe_attachment(headers) -> None:
    value = headers["Content-Disposition"]
    assert "\r" not in value and "\n" not in value and "Set-Cookie" not in headers
    kind, params = parse_options_header(value)
    assert kind == "attachment" and set(params) == {"filename"}
    assert params["filename"] == 'scan"; x=ySet-Cookie: a=b.pdf'  # the real name, read from filename*
    fallback = re.search(r'filename="([^"]*)"', value).group(1)
    assert not set(fallback) & set('"\\;%')


def _hostile_document(app, clinic, original: bytes) -> int:
    from cloud_hub.db import database
    from cloud_hub.models import Document

    uid = file_document(enrol_box(app, clinic), "a letter", "100", original=original, original_name=HOSTILE_NAME)
    with database.connection_context():
        return Document.get(Document.uid == uid).id


def test_a_name_from_a_box_cannot_add_headers_to_the_presigned_s3_download(hub_app, tenants, people):
    original = b"%PDF-1.4 hostile name"
    document_id = _hostile_document(hub_app, tenants["north"], original)
    answer = sign_in(hub_app, "admin@acme.test").get(f"/api/v1/storage/documents/{document_id}/original")
    assert answer.status_code == 302
    fetched = requests.get(answer.headers["Location"], timeout=30)
    assert fetched.status_code == 200 and fetched.content == original
    _download_is_one_safe_attachment(fetched.headers)


def test_a_name_from_a_box_cannot_add_headers_to_the_download_from_the_local_volume(
    hub_config, hub_app, tenants, people
):
    from cloud_hub import create_app

    local = create_app(hub_config.with_overrides(s3_bucket=None, s3_endpoint_url=None))
    original = b"%PDF-1.4 hostile name, local"
    document_id = _hostile_document(local, tenants["north"], original)
    answer = sign_in(local, "admin@acme.test").get(f"/api/v1/storage/documents/{document_id}/original")
    assert answer.status_code == 200 and answer.data == original
    _download_is_one_safe_attachment(answer.headers)


PEER = "198.51.100.7"


def _failed_sign_ins_with_forwarded_addresses(app, count: int) -> list[int]:
    client = app.test_client()
    return [
        client.post(
            "/api/auth/token",
            json={"email": f"nobody{n}@acme.test", "password": "wrong-password-1"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
            environ_base={"REMOTE_ADDR": PEER},
        ).status_code
        for n in range(count)
    ]


def _failed_sign_in_addresses() -> list[str]:
    from cloud_hub.db import database
    from cloud_hub.models import AuditEvent

    with database.connection_context():
        return [
            e.address for e in AuditEvent.select().where(AuditEvent.action == "login_failed").order_by(AuditEvent.id)
        ]


def test_without_trusted_proxies_a_forged_forwarded_address_changes_nothing(hub_app, hub_config, people):
    from cloud_hub import create_app

    app = create_app(hub_config.with_overrides(login_limit_per_address="3 per 5 minutes"))
    assert _failed_sign_ins_with_forwarded_addresses(app, 4) == [401, 401, 401, 429]
    assert _failed_sign_in_addresses() == [PEER] * 3


def test_behind_one_trusted_proxy_the_forwarded_address_is_the_client(hub_app, hub_config, people):
    from cloud_hub import create_app
    from cloud_hub.config import HubConfig

    hops = HubConfig.from_env({"HUB_PROXY_HOPS": "1"}).proxy_hops
    app = create_app(hub_config.with_overrides(login_limit_per_address="3 per 5 minutes", proxy_hops=hops))
    assert _failed_sign_ins_with_forwarded_addresses(app, 4) == [401] * 4
    assert _failed_sign_in_addresses() == [f"203.0.113.{n}" for n in range(4)]


def _page_image_document(hub_app, tenants, text: str) -> int:
    import io

    from cloud_hub.db import database
    from cloud_hub.models import Document
    from tests.factories import render_page

    buffer = io.BytesIO()
    render_page(["LABORATORY REPORT", text], noise=0).save(buffer, format="PNG")
    uid = file_document(enrol_box(hub_app, tenants["north"]), text, "777", original=buffer.getvalue())
    with database.connection_context():
        return Document.get(Document.uid == uid).id


def test_rendered_page_images_are_kept_only_for_their_lifetime(hub_app, hub_config, tenants, people):
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    old, kept = _page_image_document(hub_app, tenants, "Potassium 4.1"), _page_image_document(hub_app, tenants, "Zinc")
    admin = sign_in(hub_app, "admin@acme.test")
    assert admin.get(f"/documents/{old}/pages/1/image").status_code == 200
    (stale,) = hub_config.views_dir.rglob("*.jpg")
    eight_days_ago = time.time() - 8 * 86_400
    os.utime(stale, (eight_days_ago, eight_days_ago))
    assert admin.get(f"/documents/{old}/pages/1/image").status_code == 200
    assert stale.stat().st_mtime > time.time() - 3600  # rendered again, not served from the old copy

    os.utime(stale, (eight_days_ago, eight_days_ago))
    assert admin.get(f"/documents/{kept}/pages/1/image").status_code == 200
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(
        HUB_DATA_DIR=str(hub_config.data_dir),
        DATABASE_URL=hub_config.database_url,
        S3_BUCKET=hub_config.s3_bucket,
        S3_ENDPOINT_URL=hub_config.s3_endpoint_url,
        S3_REGION=hub_config.s3_region,
    )
    archived = subprocess.run(
        [sys.executable, "-m", "cloud_hub", "archive"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert archived.returncode == 0, archived.stderr
    assert "older than 7 days" in archived.stdout and "1 expired page image(s) removed" in archived.stdout
    assert not stale.exists() and not stale.parent.exists()
    assert len(list(hub_config.views_dir.rglob("*.jpg"))) == 1  # the one viewed today stays


def test_search_words_from_a_box_of_an_older_release_stay_out_of_the_hub_audit_log(hub_app, tenants, people):
    import json
    import uuid

    box = enrol_box(hub_app, tenants["north"])
    event = {
        "key": "41",
        "at": "2026-11-30T09:00:00",
        "actor": "bob",
        "action": "search",
        "address": "10.0.0.7",
        "detail": {"query": "Doe Jane 1975", "results": 1},
    }
    batch = {"batch_id": uuid.uuid4().hex, "seq": 1, "items": [{"id": "audit:41", "type": "audit", "event": event}]}
    answer = box.request("POST", "/api/v1/sync/batches", json.dumps(batch).encode())
    assert answer.get_json()["results"][0]["status"] == "applied"
    admin = sign_in(hub_app, "admin@acme.test")
    page = admin.get("/audit?action=search").get_data(as_text=True)
    csv = admin.get("/audit.csv").get_data(as_text=True)
    assert "bob (box front desk box)" in csv and '""results"": 1' in csv
    for word in ("Doe", "Jane", "1975"):
        assert word not in page and word not in csv
