"""The hub on its embedded default (SQLite, local blob folder, no Redis), as `make demo` runs it."""

import json

from cloud_hub import create_app
from cloud_hub.config import HubConfig
from cloud_hub.db import database
from cloud_hub.models import Document
from cloud_hub.tenancy import create_clinic, create_organisation, create_user
from tests.hub_fixtures import HUB_PASSWORD, enrol_box, file_document, sign_in


def test_sync_search_and_download_work_without_any_server(tmp_path):
    app = create_app(HubConfig(data_dir=tmp_path / "hub", secure_cookies=False))
    app.config["TESTING"] = True
    with database.connection_context():
        organisation = create_organisation("Demo Health")
        clinic = create_clinic(organisation, "Main Street")
        create_user(organisation, "demo@demo.test", HUB_PASSWORD, "org_admin")
    box = enrol_box(app, clinic)
    uid = file_document(box, "Ferritin 45 ug/L within range", "9001")
    replay = box.request(
        "POST",
        "/api/v1/sync/batches",
        json.dumps(
            {
                "batch_id": "again",
                "seq": 2,
                "items": [
                    {
                        "id": "x",
                        "type": "patient",
                        "patient": {"mrn": "9001", "last_name": "Smith", "first_name": "Jo", "dob": "1970-01-01"},
                    }
                ],
            }
        ).encode(),
    )
    assert replay.get_json()["results"][0]["status"] == "applied"
    admin = sign_in(app, "demo@demo.test")
    html = admin.get("/search?q=ferritin").get_data(as_text=True)
    assert "<mark>Ferritin</mark>" in html
    with database.connection_context():
        document = Document.get(Document.uid == uid)
    original = admin.get(f"/api/v1/storage/documents/{document.id}/original")
    assert original.status_code == 200 and original.data == b"%PDF-1.4 Ferritin 45 ug/L within range"
    assert (tmp_path / "hub" / "blobs").is_dir() and (tmp_path / "hub" / "hub.db").exists()
    database.close()
