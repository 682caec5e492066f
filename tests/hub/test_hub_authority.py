"""Who may manage whom at the hub: an admin grants and touches only the clinics and roles they hold,
and adding a user never tells an admin which e-mail addresses other organisations use."""

import re

from cloud_hub.db import database
from cloud_hub.models import AuditEvent, User
from cloud_hub.tenancy import EMAIL_REFUSED, create_user, may_manage
from tests.hub_fixtures import HUB_PASSWORD, sign_in


def _form_token(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/users").get_data(as_text=True)).group(1)


def _sign_in_works(hub_app, email: str, password: str) -> bool:
    answer = hub_app.test_client().post("/api/auth/token", json={"email": email, "password": password})
    return answer.status_code == 200


def test_an_admin_limited_to_one_clinic_cannot_make_or_take_over_a_wider_account(hub_app, records, people, tenants):
    with database.connection_context():
        create_user(tenants["acme"], "north-admin@acme.test", HUB_PASSWORD, "org_admin", [tenants["north"]])
    north_admin = sign_in(hub_app, "north-admin@acme.test")
    token = _form_token(north_admin)
    unrestricted = {
        "csrf_token": token,
        "email": "mole@acme.test",
        "password": "mole-password-123",
        "role": "org_admin",
    }

    assert north_admin.post("/users", data=unrestricted).status_code == 403
    south = {**unrestricted, "clinic": [str(tenants["south"].id)]}
    assert north_admin.post("/users", data=south).status_code == 403
    both = {**unrestricted, "clinic": [str(tenants["north"].id), str(tenants["south"].id)]}
    assert north_admin.post("/users", data=both).status_code == 403
    taken_over = north_admin.post(
        f"/users/{people['admin'].id}/password", data={"csrf_token": token, "password": "taken-over-123"}
    )
    assert taken_over.status_code == 403
    disabled = north_admin.post(f"/users/{people['admin'].id}/active", data={"csrf_token": token, "active": "0"})
    assert disabled.status_code == 403

    with database.connection_context():
        assert not User.select().where(User.email == "mole@acme.test").exists()
        assert User.get_by_id(people["admin"].id).active
        refused = [event.action for event in AuditEvent.select().where(AuditEvent.actor == "north-admin@acme.test")]
    assert _sign_in_works(hub_app, "admin@acme.test", HUB_PASSWORD)
    assert not _sign_in_works(hub_app, "admin@acme.test", "taken-over-123")
    assert not _sign_in_works(hub_app, "mole@acme.test", "mole-password-123")
    assert {"user.create.refused", "user.password.refused", "user.disable.refused"} <= set(refused)

    assert north_admin.get(f"/documents/{records['south']['document']}").status_code == 404
    assert north_admin.get("/api/v1/documents?q=sodium").get_json()["results"] == []
    assert north_admin.get(f"/documents/{records['north']['document']}").status_code == 200


def test_an_admin_limited_to_one_clinic_still_manages_the_people_of_that_clinic(hub_app, people, tenants):
    with database.connection_context():
        create_user(tenants["acme"], "north-admin@acme.test", HUB_PASSWORD, "org_admin", [tenants["north"]])
    north_admin = sign_in(hub_app, "north-admin@acme.test")
    token = _form_token(north_admin)
    added = north_admin.post(
        "/users",
        data={
            "csrf_token": token,
            "email": "nina@acme.test",
            "password": "nina-password-123",
            "role": "viewer",
            "clinic": [str(tenants["north"].id)],
        },
    )
    assert added.status_code == 302
    reset = north_admin.post(
        f"/users/{people['viewer'].id}/password", data={"csrf_token": token, "password": "vera-new-pass-1"}
    )
    assert reset.status_code == 302
    assert _sign_in_works(hub_app, "nina@acme.test", "nina-password-123")
    assert _sign_in_works(hub_app, "vera@acme.test", "vera-new-pass-1")
    page = north_admin.get("/users").get_data(as_text=True)
    assert "reaches more than you do" in page and f"/users/{people['admin'].id}/password" not in page
    with database.connection_context():
        nina = User.get(User.email == "nina@acme.test")
        assert [link.clinic_id for link in nina.clinic_links] == [tenants["north"].id]


def test_the_rule_compares_clinics_and_roles_held(hub_app, people, tenants):
    with database.connection_context():
        north_admin = create_user(tenants["acme"], "na@acme.test", HUB_PASSWORD, "org_admin", [tenants["north"]])
        north, south = tenants["north"].id, tenants["south"].id
        admin = people["admin"]
        assert may_manage(admin, None, "org_admin") and may_manage(admin, frozenset({south}), "viewer")
        assert may_manage(north_admin, frozenset({north}), "org_admin")
        assert not may_manage(north_admin, None, "viewer")
        assert not may_manage(north_admin, frozenset({north, south}), "viewer")
        assert not may_manage(people["viewer"], frozenset({north}), "org_admin")
        assert not may_manage(admin, None, "superuser")


def test_adding_a_user_does_not_tell_whether_another_organisation_uses_the_address(hub_app, people):
    admin = sign_in(hub_app, "admin@acme.test")
    token = _form_token(admin)

    def add(email: str) -> str:
        answer = admin.post(
            "/users",
            data={"csrf_token": token, "email": email, "password": "some-password-123", "role": "viewer"},
            follow_redirects=True,
        )
        assert answer.status_code == 200
        return re.search(r'class="flash error" role="status">([^<]*)<', answer.get_data(as_text=True)).group(1)

    theirs, ours = add("admin@other.test"), add("vera@acme.test")
    assert theirs == ours == EMAIL_REFUSED
    assert "exist" not in theirs and "other" not in theirs
    with database.connection_context():
        assert User.get(User.email == "admin@other.test").organisation_id == people["other_admin"].organisation_id
