"""Head office's pages and API on synced data: search, viewer, original download, devices, users."""

import hashlib
import io

import requests
from PIL import Image

from cloud_hub.db import database
from cloud_hub.models import AuditEvent, Device, Document, User
from tests.factories import render_page
from tests.hub_fixtures import HUB_PASSWORD, enrol_box, file_document, sign_in


def page_csrf(client, path):
    html = client.get(path).get_data(as_text=True)
    return html.split('name="csrf_token" value="')[1].split('"')[0]


def test_search_is_ranked_highlighted_and_spans_the_users_clinics_only(hub_app, records):
    admin = sign_in(hub_app, "admin@acme.test")
    html = admin.get("/search?q=sodium").get_data(as_text=True)
    assert "<mark>sodium</mark>" in html and "South" in html
    other_org = admin.get("/search?q=osmium").get_data(as_text=True)
    assert "No pages contain all of" in other_org and "<mark>osmium</mark>" not in other_org
    api = admin.get("/api/v1/documents?q=level").get_json()["results"]
    assert {r["clinic"] for r in api} == {"North", "South"} and all("[level]" in r["snippet"] for r in api)
    viewer = sign_in(hub_app, "vera@acme.test")
    assert {r["clinic"] for r in viewer.get("/api/v1/documents?q=level").get_json()["results"]} == {"North"}
    assert admin.get("/api/v1/documents?q=...").status_code == 400


def test_the_viewer_shows_text_and_every_view_and_download_is_audited(hub_app, hub_config, records):
    admin = sign_in(hub_app, "admin@acme.test")
    html = admin.get(f"/documents/{records['north']['document']}").get_data(as_text=True)
    assert "nitrogen" in html and "Northson" in html and "MRN 100" in html
    download = admin.get(f"/api/v1/storage/documents/{records['north']['document']}/original")
    assert download.status_code == 302 and "X-Amz-Expires=300" in download.headers["Location"]
    fetched = requests.get(download.headers["Location"], timeout=10)
    assert fetched.ok and fetched.content == b"%PDF-1.4 Laboratory report nitrogen level normal"
    with database.connection_context():
        actions = [e.action for e in AuditEvent.select().where(AuditEvent.actor == "admin@acme.test")]
    assert "document.view" in actions and "document.download" in actions


def test_patients_api_finds_by_name_or_mrn_prefix(hub_app, records):
    admin = sign_in(hub_app, "admin@acme.test")
    assert [p["mrn"] for p in admin.get("/api/v1/patients?q=sout").get_json()["patients"]] == ["200"]
    assert [p["last_name"] for p in admin.get("/api/v1/patients?q=10").get_json()["patients"]] == ["Northson"]
    one = admin.get(f"/api/v1/patients/{records['north']['patient']}").get_json()
    assert one["patient"]["mrn"] == "100" and len(one["documents"]) == 1


def test_roles_see_only_their_pages(hub_app, records):
    billing, it, viewer = (sign_in(hub_app, e) for e in ("bill@acme.test", "it@acme.test", "vera@acme.test"))
    assert billing.get("/search?q=x").status_code == 403 and billing.get("/api/v1/patients").status_code == 403
    assert it.get("/devices").status_code == 200 and it.get("/api/v1/documents?q=level").status_code == 403
    assert viewer.get("/devices").status_code == 403 and viewer.get("/users").status_code == 403
    assert it.get("/users").status_code == 403 and viewer.get("/audit").status_code == 403


def test_it_issues_tokens_renames_and_revokes_boxes_from_the_devices_page(hub_app, records, tenants):
    it = sign_in(hub_app, "it@acme.test")
    page = it.get("/devices").get_data(as_text=True)
    assert "north box" in page and "elsewhere box" not in page
    token = page_csrf(it, "/devices")
    issued = it.post(f"/clinics/{tenants['north'].id}/enrolment-token", data={"csrf_token": token})
    assert issued.status_code == 200 and "dfe_" in issued.get_data(as_text=True)
    device = records["north"]["device"]
    it.post(f"/devices/{device}/rename", data={"csrf_token": token, "name": "Reception"})
    it.post(f"/devices/{device}/revoke", data={"csrf_token": token})
    with database.connection_context():
        row = Device.get(Device.uid == device)
        assert row.name == "Reception" and row.revoked_at is not None
    assert records["north"]["box"].request("GET", "/api/v1/sync/device").status_code == 403
    assert it.post(f"/devices/{device}/revoke").status_code == 400


def test_admin_adds_disables_and_resets_users(hub_app, people):
    admin = sign_in(hub_app, "admin@acme.test")
    token = page_csrf(admin, "/users")
    admin.post(
        "/users", data={"csrf_token": token, "email": "new@acme.test", "password": HUB_PASSWORD, "role": "viewer"}
    )
    assert sign_in(hub_app, "new@acme.test").get("/api/auth/me").status_code == 200
    short = admin.post(
        "/users",
        data={"csrf_token": token, "email": "x@acme.test", "password": "short", "role": "viewer"},
        follow_redirects=True,
    )
    assert "at least 10 characters" in short.get_data(as_text=True)
    viewer = sign_in(hub_app, "vera@acme.test")
    admin.post(f"/users/{people['viewer'].id}/active", data={"csrf_token": token, "active": "0"})
    assert viewer.get("/api/auth/me").status_code == 401
    admin.post(f"/users/{people['it'].id}/password", data={"csrf_token": token, "password": "another-pass-12"})
    assert sign_in(hub_app, "it@acme.test", "another-pass-12").get("/api/auth/me").status_code == 200
    with database.connection_context():
        assert not User.get(User.email == "vera@acme.test").active


def test_audit_log_filters_and_exports_csv(hub_app, records):
    admin = sign_in(hub_app, "admin@acme.test")
    admin.get(f"/documents/{records['south']['document']}")
    html = admin.get("/audit?action=document.view").get_data(as_text=True)
    assert "document.view" in html and "device.enrol" not in html
    exported = admin.get("/audit.csv")
    assert exported.mimetype == "text/csv" and "document.view" in exported.get_data(as_text=True)
    assert hashlib.sha256(exported.data).hexdigest()
    assert "osmium" not in exported.get_data(as_text=True)
    assert "Elsewhere" not in html


def test_page_images_are_rendered_from_the_stored_original_and_patients_show_in_search(hub_app, tenants, people):
    box = enrol_box(hub_app, tenants["north"])
    buffer = io.BytesIO()
    render_page(["LABORATORY REPORT", "Potassium 4.1 mmol/L"], noise=0).save(buffer, format="PNG")
    uid = file_document(box, "Potassium 4.1 mmol/L", "777", last_name="Pixelsen", original=buffer.getvalue())
    with database.connection_context():
        document = Document.get(Document.uid == uid)
    admin = sign_in(hub_app, "admin@acme.test")
    image = admin.get(f"/documents/{document.id}/pages/1/image")
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(image.data)).width == 1400
    assert admin.get(f"/documents/{document.id}/pages/2/image").status_code == 404
    found = admin.get("/search?q=pixelsen").get_data(as_text=True)
    assert "Pixelsen, Jo" in found and "777" in found


def test_audit_log_finds_an_action_by_any_part_a_patients_documents_and_links_them(hub_app, records):
    admin = sign_in(hub_app, "admin@acme.test")
    south, north = records["south"]["document"], records["north"]["document"]
    admin.get(f"/documents/{south}")
    admin.get(f"/documents/{north}")
    by_part = admin.get("/audit?action=view").get_data(as_text=True)
    assert by_part.count("document.view") == 2
    by_patient = admin.get("/audit?patient=200").get_data(as_text=True)
    assert f'<a href="/documents/{south}">document {south}</a>' in by_patient
    assert f"document {north}" not in by_patient
    assert "{&#34;" not in by_patient
    it = sign_in(hub_app, "it@acme.test")
    it_page = it.get("/audit?patient=200").get_data(as_text=True)
    assert 'name="patient"' not in it_page and f"document {north}" in it_page  # IT cannot look up patients
