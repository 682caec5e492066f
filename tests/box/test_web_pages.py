"""Every page and action of the box UI, as staff and admins use them (Flask test client)."""

import datetime as dt
import io

import pytest

from appliance.ingest.intake import accept_file, store_path
from appliance.models import AuditEvent, Document, Job, Page, Patient, Quarantine, Scan, User, utcnow
from tests.conftest import token_of
from tests.factories import make_document

D = dt.date


@pytest.fixture
def smith(box):
    return Patient.create(mrn="00123456", last_name="Smith", first_name="John", dob=D(1975, 3, 14))


def events(action):
    return AuditEvent.select().where(AuditEvent.action == action).count()


def test_dashboard_shows_the_figures(box, staff_client, smith):
    make_document(box, patient=smith)
    make_document(box, status="needs_review", reason="no MRN found")
    html = staff_client.get("/").get_data(as_text=True)
    assert "waiting for review" in html and "Not configured" in html
    figures = staff_client.get("/api/dashboard").get_json()
    assert figures["filed_today"] == 1 and figures["needs_review"] == 1 and figures["disk"]["total"] > 0


def test_dashboard_shows_the_sync_state_and_sync_now_asks_the_agent(box, staff_client, smith):
    from appliance.models import Outbox
    from appliance.sync import state
    from sync import protocol

    state.save_key(box, protocol.new_private_key())
    state.put(state.HUB_URL, "https://hub.example.org")
    state.put(state.DEVICE_ID, "d1")
    state.put(state.LAST_ERROR, "2026-11-26T01:00:00+00:00 hub unreachable: ConnectionError")
    document = make_document(box, patient=smith)
    Outbox.create(kind="document", object_key=document.uid)
    Outbox.create(
        kind="patient", object_key=str(smith.id), set_aside_at=utcnow(), set_aside_reason="patient.mrn is required"
    )
    html = staff_client.get("/").get_data(as_text=True)
    assert "Waiting to send" in html and "hub unreachable" in html and "patient.mrn is required" in html
    sign_in_events = Outbox.select().where(Outbox.kind == "audit").count()
    assert sign_in_events >= 1
    assert staff_client.get("/api/dashboard").get_json()["sync"]["backlog"] == 1 + sign_in_events
    assert staff_client.post("/sync/now").status_code == 400
    staff_client.post("/sync/now", data={"csrf_token": token_of(staff_client)})
    assert state.get(state.SYNC_NOW, False) and events("sync.now") == 1


@pytest.mark.parametrize("query", ["smi", "00123", "Smith John", "14/03/1975", "1975-03-14"])
def test_patients_are_found_by_name_mrn_or_birth_date(staff_client, smith, query):
    assert "Smith, John" in staff_client.get(f"/patients?q={query}").get_data(as_text=True)


def test_patient_lookup_api_for_search_as_you_type(staff_client, smith):
    found = staff_client.get("/api/patients?q=smit").get_json()["patients"]
    assert found == [{"id": smith.id, "mrn": "00123456", "name": "Smith, John", "dob": "1975-03-14"}]
    assert staff_client.get("/api/patients?q=zz").get_json()["patients"] == []


def test_patient_page_is_a_timeline_and_the_view_is_audited(box, staff_client, smith):
    make_document(box, patient=smith, doc_date=D(2024, 1, 5), doc_type="referral")
    make_document(box, patient=smith, doc_date=D(2024, 6, 1))
    html = staff_client.get(f"/patients/{smith.id}").get_data(as_text=True)
    assert html.index("2024-06-01") < html.index("2024-01-05")
    assert ("Referral" in html and "thumbnail" not in html) or "/thumbnail" in html
    assert events("patient.view") == 1


def test_viewer_shows_pages_text_and_metadata_and_audits_the_view(box, staff_client, smith):
    document = make_document(box, patient=smith, texts=("First page words", "Second page words"))
    html = staff_client.get(f"/documents/{document.id}").get_data(as_text=True)
    assert "First page words" in html and "Second page words" in html and "MRN 00123456" in html
    page = Page.get(Page.document == document.id, Page.number == 2)
    image = staff_client.get(f"/documents/{document.id}/pages/{page.id}/image")
    assert image.status_code == 200 and image.mimetype == "image/jpeg" and image.data[:2] == b"\xff\xd8"
    assert events("document.view") == 1


def test_original_download_is_the_stored_file_and_audited(box, staff_client, smith):
    document = make_document(box, patient=smith, name="lab 2024.tif")
    response = staff_client.get(f"/documents/{document.id}/original")
    assert response.data == store_path(box, document.scan.sha256).read_bytes()
    assert "lab 2024.tif" in response.headers["Content-Disposition"]
    assert events("document.download") == 1


def test_other_documents_pages_and_traversal_attempts_get_404(box, staff_client, smith):
    first = make_document(box, patient=smith)
    second = make_document(box, patient=smith)
    other_page = Page.get(Page.document == second.id)
    assert staff_client.get(f"/documents/{first.id}/pages/{other_page.id}/image").status_code == 404
    assert staff_client.get(f"/documents/{first.id}/pages/{other_page.id}/thumbnail").status_code == 404
    assert staff_client.get("/documents/999999").status_code == 404
    assert staff_client.get(f"/documents/{first.id}/pages/..%2f..%2f..%2fetc%2fpasswd/image").status_code == 404
    assert staff_client.get("/static/../../config.py").status_code == 404
    assert staff_client.get("/patients/999999").status_code == 404
    assert staff_client.get("/api/scans/999999").status_code == 404


def test_metadata_edits_are_saved_and_audited(box, staff_client, smith):
    document = make_document(box, status="needs_review", reason="no MRN found", doc_type="other")
    token = token_of(staff_client, f"/documents/{document.id}")
    staff_client.post(
        f"/documents/{document.id}/edit",
        data={"csrf_token": token, "doc_type": "invoice", "doc_date": "2024-02-29", "patient_id": str(smith.id)},
    )
    document = Document.get_by_id(document.id)
    assert (document.doc_type, document.doc_date, document.patient_id, document.status) == (
        "invoice",
        D(2024, 2, 29),
        smith.id,
        "filed",
    )
    event = AuditEvent.get(AuditEvent.action == "document.edit")
    assert event.actor == "bob" and event.detail["before"]["doc_type"] == "other"
    response = staff_client.post(
        f"/documents/{document.id}/edit",
        data={"csrf_token": token, "doc_type": "poem", "doc_date": ""},
        follow_redirects=True,
    )
    assert b"Not saved: unknown document type" in response.data


def test_search_ranks_highlights_filters_and_paginates(box, staff_client, smith):
    make_document(
        box,
        patient=smith,
        texts=("potassium potassium potassium level",),
        doc_type="lab_report",
        doc_date=D(2024, 3, 1),
    )
    make_document(
        box, patient=smith, texts=("potassium mentioned once in a letter",), doc_type="referral", doc_date=D(2023, 1, 1)
    )
    html = staff_client.get("/search?q=potassium").get_data(as_text=True)
    assert html.index("level") < html.index("letter")
    assert "<mark>potassium</mark>" in html
    assert "letter" not in staff_client.get("/search?q=potassium&type=lab_report").get_data(as_text=True)
    assert "level" not in staff_client.get("/search?q=potassium&from=2022-01-01&to=2023-12-31").get_data(as_text=True)
    assert "page=" in html
    for n in range(21):
        make_document(box, texts=(f"zinc result {n}",))
    first = staff_client.get("/search?q=zinc").get_data(as_text=True)
    second = staff_client.get("/search?q=zinc&page=2").get_data(as_text=True)
    assert "Next →" in first and "← Previous" in second and "Next →" not in second
    assert events("search") >= 4


def test_a_word_on_too_many_pages_is_ranked_among_the_most_recent_and_says_so(box, staff_client, monkeypatch):
    monkeypatch.setattr("appliance.search.RANK_WINDOW", 3)
    make_document(box, texts=("copper copper copper copper oldest",))
    for n in range(3):
        make_document(box, texts=(f"copper once newer {n}",))
    html = staff_client.get("/search?q=copper").get_data(as_text=True)
    assert "oldest" not in html and html.count("newer") == 3
    assert "Over 3 pages match" in html and "Add a word" in html
    narrowed = staff_client.get("/search?q=copper+oldest").get_data(as_text=True)
    assert "oldest" in narrowed and "Over 3 pages" not in narrowed


def test_search_escapes_page_text(box, staff_client):
    make_document(box, texts=("<script>alert(1)</script> sodium",))
    html = staff_client.get("/search?q=sodium").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


def test_review_queue_lists_reasons_and_assigning_files_the_document(box, staff_client, smith):
    document = make_document(box, status="needs_review", reason="no MRN found (read: name)")
    assert "no MRN found (read: name)" in staff_client.get("/review").get_data(as_text=True)
    token = token_of(staff_client, "/review")
    staff_client.post(f"/documents/{document.id}/assign", data={"csrf_token": token, "patient_id": smith.id})
    document = Document.get_by_id(document.id)
    assert document.status == "filed" and document.patient_id == smith.id and document.review_reason is None
    assert events("document.assign") == 1
    assert "Nothing is waiting" in staff_client.get("/review").get_data(as_text=True)


def test_review_can_create_the_patient(box, staff_client, smith):
    document = make_document(box, status="needs_review", reason="new MRN 42424 but no date of birth read")
    token = token_of(staff_client, "/review")
    data = {"csrf_token": token, "mrn": "42424", "last_name": "Doe", "first_name": "Jane", "dob": "1980-01-02"}
    staff_client.post(f"/documents/{document.id}/create-patient", data=data)
    assert Document.get_by_id(document.id).patient.mrn == "42424"
    clash = staff_client.post(
        f"/documents/{document.id}/create-patient", follow_redirects=True, data=dict(data, mrn="00123456")
    )
    assert b"already exists" in clash.data
    assert events("patient.create") == 1


def test_split_and_merge(box, staff_client):
    document = make_document(box, status="needs_review", reason="x", texts=("one", "two", "three"))
    pages = list(Page.select().where(Page.document == document.id).order_by(Page.number))
    token = token_of(staff_client, "/review")
    staff_client.post(f"/documents/{document.id}/split", data={"csrf_token": token, "page_id": pages[1].id})
    new = Document.select().order_by(Document.id.desc()).first()
    assert Document.get_by_id(document.id).page_count == 1 and new.page_count == 2
    assert [p.number for p in Page.select().where(Page.document == new.id).order_by(Page.number)] == [2, 3]
    merged = staff_client.post(
        f"/documents/{document.id}/merge", data={"csrf_token": token, "other_id": new.id}, follow_redirects=True
    )
    assert b"was merged into this one" in merged.data, merged.data.decode()[-2000:]
    assert Document.get_by_id(document.id).page_count == 3
    assert Document.get_or_none(Document.id == new.id) is None
    assert events("document.split") == 1 and events("document.merge") == 1


def quarantined(box, runner_config, data=b"plain text, not a scan"):
    path = box.inbox / "bad.pdf"
    path.write_bytes(data)
    scan = accept_file(path, box).scan
    from appliance.ingest.recording import quarantine_scan

    return quarantine_scan(scan, "not a scan: the content is plain text")


def test_quarantine_lists_downloads_and_retries(box, staff_client):
    entry = quarantined(box, box)
    html = staff_client.get("/quarantine").get_data(as_text=True)
    assert "bad.pdf" in html and "not a scan" in html and "Discard" not in html
    assert staff_client.get(f"/quarantine/{entry.id}/original").data == b"plain text, not a scan"
    token = token_of(staff_client, "/quarantine")
    staff_client.post(f"/quarantine/{entry.id}/retry", data={"csrf_token": token})
    assert Job.get(Job.scan == entry.scan_id).state == "pending"
    assert Quarantine.get_by_id(entry.id).resolution == "retried"
    assert events("quarantine.retry") == 1 and events("quarantine.download") == 1


def test_only_admins_discard_after_confirming_and_the_original_goes_at_purge(box, admin_client):
    entry = quarantined(box, box)
    original = store_path(box, Scan.get_by_id(entry.scan_id).sha256)
    confirm = admin_client.get(f"/quarantine/{entry.id}/discard").get_data(as_text=True)
    assert "Discard this file?" in confirm and "bad.pdf" in confirm
    assert Quarantine.get_by_id(entry.id).resolution is None
    token = token_of(admin_client, "/quarantine")
    admin_client.post(f"/quarantine/{entry.id}/discard", data={"csrf_token": token})
    assert Quarantine.get_by_id(entry.id).resolution == "discarded" and original.exists()
    assert "bad.pdf" in admin_client.get("/trash").get_data(as_text=True)
    admin_client.post(f"/quarantine/{entry.id}/purge", data={"csrf_token": token})
    assert Quarantine.get_by_id(entry.id).resolution == "purged" and not original.exists()
    assert events("quarantine.discard") == 1 and events("quarantine.purge") == 1


def test_upload_takes_a_file_into_the_pipeline(box, staff_client):
    token = token_of(staff_client, "/upload")
    response = staff_client.post(
        "/upload", headers={"X-CSRFToken": token}, data={"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "../../letter.pdf")}
    )
    assert response.status_code == 201
    body = response.get_json()
    scan = Scan.get_by_id(body["scan_id"])
    assert scan.original_name == "letter.pdf" and scan.source == "upload"
    assert Job.get(Job.scan == scan.id).state == "pending"
    status = staff_client.get(body["status_url"]).get_json()
    assert status["status"] == "pending" and status["documents"] == []
    assert not list(box.tmp_dir.glob("upload-*"))
    again = staff_client.post(
        "/upload", headers={"X-CSRFToken": token}, data={"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "copy.pdf")}
    )
    assert again.get_json()["outcome"] == "duplicate"
    assert staff_client.post("/upload", headers={"X-CSRFToken": token}).status_code == 400


def test_audit_log_filters_and_exports_csv(box, admin_client, smith):
    admin_client.get(f"/patients/{smith.id}")
    html = admin_client.get("/audit?action=patient.view").get_data(as_text=True)
    assert "patient.view" in html and "auth.login" not in html
    csv_text = admin_client.get("/audit.csv?actor=alice").get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("id,at,actor,action")
    assert "patient.view" in csv_text and "auth.login" in csv_text
    assert events("audit.export") == 1


def test_admin_adds_disables_and_resets_users(admin_client, users):
    token = token_of(admin_client, "/admin/users")
    admin_client.post(
        "/admin/users", data={"csrf_token": token, "username": "carol", "password": "carol-pass-99", "role": "staff"}
    )
    carol = User.get(User.username == "carol")
    assert carol.role == "staff" and carol.active
    short = admin_client.post(
        "/admin/users",
        follow_redirects=True,
        data={"csrf_token": token, "username": "dave", "password": "short", "role": "staff"},
    )
    assert b"at least 10 characters" in short.data
    admin_client.post(f"/admin/users/{carol.id}/active", data={"csrf_token": token, "active": "0"})
    assert not User.get_by_id(carol.id).active
    admin_client.post(f"/admin/users/{carol.id}/password", data={"csrf_token": token, "password": "new-password-7"})
    assert events("user.password_reset") == 1
    own = admin_client.post(
        f"/admin/users/{users['admin'].id}/active", follow_redirects=True, data={"csrf_token": token, "active": "0"}
    )
    assert b"cannot disable your own account" in own.data


def test_metrics_need_the_configured_token_and_show_the_sync_backlog(box, smith):
    from appliance.models import Outbox
    from appliance.web import create_app

    assert create_app(box).test_client().get("/metrics").status_code == 404
    client = create_app(box.with_overrides(metrics_token="scrape-secret")).test_client()
    document = make_document(box, patient=smith)
    Outbox.delete().execute()
    Outbox.create(kind="document", object_key=document.uid)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    text = scraped.get_data(as_text=True)
    assert scraped.status_code == 200 and "digifort_box_sync_backlog 1.0" in text
    assert 'digifort_box_documents{status="filed"} 1.0' in text and "Smith" not in text
