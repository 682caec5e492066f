"""Tenant isolation through every route: a user of one organisation gets 404 for every object of
another, and a user limited to one clinic gets 404 for the objects of the others.

OBJECT_ROUTES and LIST_ROUTES together must name every route of the hub except sign-in, the
health check, static files and the device-signed sync API (its isolation is in
test_sync_data.py); the first test fails when a route is added without being listed here.
"""

import re

import pytest

from cloud_hub import billing
from cloud_hub.db import database
from cloud_hub.models import Device, User
from cloud_hub.tenancy import create_user
from tests.hub_fixtures import HUB_PASSWORD, sign_in

OBJECT_ROUTES = [
    ("GET", "/api/v1/patients/<int:patient_id>"),
    ("PATCH", "/api/v1/patients/<int:patient_id>"),
    ("GET", "/api/v1/documents/<int:document_id>"),
    ("GET", "/api/v1/storage/documents/<int:document_id>/original"),
    ("GET", "/documents/<int:document_id>"),
    ("GET", "/patients/<int:patient_id>"),
    ("GET", "/documents/<int:document_id>/pages/<int:number>/image"),
    ("POST", "/clinics/<int:clinic_id>/enrolment-token"),
    ("POST", "/devices/<uid>/rename"),
    ("POST", "/devices/<uid>/revoke"),
    ("POST", "/devices/<uid>/rotation-token"),
    ("POST", "/users/<int:user_id>/active"),
    ("POST", "/users/<int:user_id>/password"),
    ("POST", "/users/<int:user_id>/mfa/reset"),
    ("POST", "/users/<int:user_id>/lockout/lift"),
    ("GET", "/billing/invoices/<int:invoice_id>.csv"),
    ("GET", "/billing/invoices/<int:invoice_id>.pdf"),
    ("GET", "/api/v1/billing/invoices/<int:invoice_id>"),
]
LIST_ROUTES = [
    ("GET", "/"),
    ("GET", "/search?q=osmium"),
    ("GET", "/devices"),
    ("GET", "/users"),
    ("GET", "/audit"),
    ("GET", "/audit.csv"),
    ("GET", "/api/v1/patients?q="),
    ("GET", "/api/v1/documents?q=osmium"),
    ("POST", "/users"),
    ("GET", "/billing"),
    ("POST", "/billing/invoices"),
    ("GET", "/api/v1/billing/usage"),
    ("GET", "/api/v1/billing/invoices"),
    ("GET", "/upload"),
    ("POST", "/upload"),
    ("GET", "/register"),
    ("POST", "/register/preview"),
    ("POST", "/register/apply"),
]
OUTSIDE = {"/healthz", "/login", "/logout", "/api/auth/token", "/api/auth/me", "/api/auth/logout", "/metrics"}
# The second step of sign-in, and the Security page: they reach only the signed-in (or signing-in)
# user's own account, never an object named in the URL (tested in test_hub_mfa.py).
OUTSIDE |= {"/login/code", "/login/setup", "/security", "/security/password", "/security/mfa/setup"}
OUTSIDE |= {"/security/mfa/off", "/security/mfa/recovery-codes"}


def test_every_route_is_covered_by_the_isolation_tests(hub_app):
    listed = {(m, r) for m, r in OBJECT_ROUTES} | {(m, r.split("?")[0]) for m, r in LIST_ROUTES}
    served = {
        (method, rule.rule)
        for rule in hub_app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if rule.endpoint != "static" and not rule.rule.startswith("/api/v1/sync") and rule.rule not in OUTSIDE
    }
    assert served == listed


def _url(rule: str, ids: dict) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), rule)


def _form_token(client) -> str:
    html = client.get("/users").get_data(as_text=True)
    return html.split('name="csrf_token" value="')[1].split('"')[0]


@pytest.mark.parametrize("method,rule", OBJECT_ROUTES)
def test_objects_of_another_organisation_are_not_found(hub_app, records, people, tenants, method, rule):
    admin = sign_in(hub_app, "admin@acme.test")
    with database.connection_context():
        their_invoice = billing.invoice(tenants["other"].id, "2026-10")
    theirs = {
        "patient_id": records["elsewhere"]["patient"],
        "document_id": records["elsewhere"]["document"],
        "clinic_id": tenants["elsewhere"].id,
        "uid": records["elsewhere"]["device"],
        "user_id": people["other_admin"].id,
        "invoice_id": their_invoice.id,
        "number": 1,
    }
    data = {"csrf_token": _form_token(admin), "name": "taken", "active": "0", "password": "taken-over-123"}
    if method == "PATCH":
        answer = admin.patch(
            _url(rule, theirs),
            json={"last_name": "Taken"},
            headers={"X-CSRFToken": admin.get("/api/auth/me").get_json()["csrf_token"]},
        )
    else:
        answer = admin.open(_url(rule, theirs), method=method, data=data if method == "POST" else None)
    assert answer.status_code == 404
    with database.connection_context():
        device = Device.get(Device.uid == records["elsewhere"]["device"])
        assert device.name == "elsewhere box" and device.revoked_at is None
        assert User.get_by_id(people["other_admin"].id).active


@pytest.mark.parametrize(
    "method,rule",
    [r for r in OBJECT_ROUTES if "patient_id" in r[1] or "document_id" in r[1] or "clinic_id" in r[1] or "uid" in r[1]],
)
def test_a_user_limited_to_one_clinic_cannot_reach_another(hub_app, records, people, tenants, method, rule):
    with database.connection_context():
        create_user(tenants["acme"], "north-it@acme.test", HUB_PASSWORD, "it", [tenants["north"]])
    south = {
        "patient_id": records["south"]["patient"],
        "document_id": records["south"]["document"],
        "clinic_id": tenants["south"].id,
        "uid": records["south"]["device"],
        "number": 1,
    }
    viewer, it = sign_in(hub_app, "vera@acme.test"), sign_in(hub_app, "north-it@acme.test")
    client = it if method == "POST" else viewer
    token = client.get("/api/auth/me").get_json()["csrf_token"]
    if method == "PATCH":
        with database.connection_context():
            create_user(tenants["acme"], "north-admin@acme.test", HUB_PASSWORD, "org_admin", [tenants["north"]])
        client = sign_in(hub_app, "north-admin@acme.test")
        token = client.get("/api/auth/me").get_json()["csrf_token"]
        answer = client.patch(_url(rule, south), json={"last_name": "X"}, headers={"X-CSRFToken": token})
    else:
        answer = client.open(_url(rule, south), method=method, data={"csrf_token": token, "name": "x"})
    assert answer.status_code == 404


@pytest.mark.parametrize("method,rule", LIST_ROUTES)
def test_lists_show_nothing_of_another_organisation(hub_app, records, people, method, rule):
    admin = sign_in(hub_app, "admin@acme.test")
    data = (
        {
            "csrf_token": _form_token(admin),
            "email": "someone@acme.test",
            "password": "a-long-password",
            "role": "viewer",
            "month": "2026-10",
            "clinic_id": records["north"]["clinic"],
        }
        if method == "POST"
        else None
    )
    answer = admin.open(rule, method=method, data=data, follow_redirects=True)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200
    for marker in ("Elsewhere", "<mark>osmium", "Elsewhereson", "admin@other.test", records["elsewhere"]["device"]):
        assert marker not in body
