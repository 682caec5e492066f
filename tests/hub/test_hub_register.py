"""Head office imports a clinic's patient register from the hub's pages: the changes are shown
before anything changes, only clinics the admin may see can be chosen, and the clinic's boxes get
the patients on their change feed."""

import io
import re

from cloud_hub.db import database
from cloud_hub.models import Change, Patient
from cloud_hub.tenancy import create_user
from tests.hub_fixtures import HUB_PASSWORD, sign_in

REGISTER = b"mrn,last_name,first_name,dob\n700100,Okafor,Chidi,1990-01-05\n,No,Mrn,2000-01-01\n"


def _token(client):
    html = client.get("/register").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _preview(client, clinic_id, data=REGISTER):
    return client.post(
        "/register/preview",
        data={"csrf_token": _token(client), "clinic_id": clinic_id, "file": (io.BytesIO(data), "register.csv")},
        content_type="multipart/form-data",
    )


def test_an_admin_previews_then_applies_a_clinics_register(hub_app, tenants, people):
    admin = sign_in(hub_app, "admin@acme.test")
    preview = _preview(admin, tenants["north"].id)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "into North?" in html and "1</strong> to add" in html and "no MRN" in html
    with database.connection_context():
        assert Patient.select().count() == 0
    pending = re.search(r'name="token" value="([0-9a-f]+)"', html).group(1)
    done = admin.post(
        "/register/apply",
        data={"csrf_token": _token(admin), "token": pending, "name": "register.csv", "clinic_id": tenants["north"].id},
        follow_redirects=True,
    )
    assert "Register imported into North: 1 added" in done.get_data(as_text=True)
    with database.connection_context():
        assert Patient.get(Patient.mrn == "700100").clinic_id == tenants["north"].id
        change = Change.get(Change.kind == "patient.correct")
        assert change.clinic_id == tenants["north"].id and '"register": true' in change.payload


def test_only_the_admins_own_clinics_can_take_a_register(hub_app, tenants, people):
    admin = sign_in(hub_app, "admin@acme.test")
    assert _preview(admin, tenants["elsewhere"].id).status_code == 404
    with database.connection_context():
        create_user(tenants["acme"], "north-admin@acme.test", HUB_PASSWORD, "org_admin", [tenants["north"]])
    limited = sign_in(hub_app, "north-admin@acme.test")
    assert _preview(limited, tenants["south"].id).status_code == 404
    assert sign_in(hub_app, "vera@acme.test").get("/register").status_code == 403
    with database.connection_context():
        assert Patient.select().count() == 0
