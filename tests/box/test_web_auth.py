"""Signing in, roles, CSRF, idle logoff, rate limits and security headers on the box UI; every route
but the few listed public ones turns strangers away."""

import re
import time

from appliance.models import AuditEvent, WebSession
from appliance.users import set_active
from tests.conftest import sign_in, token_of

# The endpoints a stranger may reach, each with the reason; every other route of the app (read
# from app.url_map, so a new one cannot be left out) must turn a stranger away.
PUBLIC = {
    "auth.login": "the sign-in page itself",
    "auth.second_factor": "the sign-in's second step; without a pending sign-in it sends to /login (test_mfa.py)",
    "auth.setup_at_sign_in": "setup due at sign-in; without a pending sign-in it sends to /login (test_mfa.py)",
    "security.healthz": "the health check for systemd and nginx; it answers only {'status': 'ok'}",
    "static": "stylesheets and scripts, no clinic data",
    "metrics.metrics": "Prometheus scrapes it with its own bearer token (test_metrics_needs_its_own_token)",
    "unlock.index": "the recovery passphrase page of a locked box; once unlocked it only sends to / (test_unlock.py)",
}
CHANGES = {"POST", "PUT", "PATCH", "DELETE"}


def routes(app, public=False):
    """(method, url, endpoint) for every route of `app` (1 for each part of the URL), less the
    public ones unless `public`."""
    return sorted(
        (method, re.sub(r"<(?:\w+:)?\w+>", "1", rule.rule), rule.endpoint)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if public or rule.endpoint not in PUBLIC
    )


def refused_sign_in(response, url) -> bool:
    """A page sends a stranger to the sign-in page; a JSON API answers 401."""
    if url.startswith("/api/"):
        return response.status_code == 401
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_public_endpoints_are_exactly_those_listed(app):
    from appliance.web.security import PUBLIC_ENDPOINTS

    assert set(PUBLIC) == PUBLIC_ENDPOINTS
    assert set(PUBLIC) <= {endpoint for _, _, endpoint in routes(app, public=True)}
    protected = {endpoint for _, _, endpoint in routes(app)}
    assert {
        "dashboard.index",
        "documents.original",
        "dashboard.sync_now",
        "admin_users.add",
        "auth.logout",
    } <= protected


def test_every_page_and_api_sends_strangers_to_sign_in(app):
    client = app.test_client()
    wrong = [
        (url, response.status_code, response.headers.get("Location"))
        for method, url, _ in routes(app)
        if method == "GET"
        for response in [client.get(url)]
        if not refused_sign_in(response, url)
    ]
    assert wrong == []


def test_every_change_refuses_strangers_with_or_without_a_csrf_token(app):
    client = app.test_client()
    changes = [(method, url) for method, url, _ in routes(app) if method in CHANGES]
    assert changes
    without_token = [
        (method, url, answer.status_code)
        for method, url in changes
        for answer in [client.open(url, method=method)]
        if answer.status_code not in (400, 401, 403)
    ]
    assert without_token == []
    # A stranger can get a valid CSRF token from the sign-in page; sign-in is still needed.
    token = token_of(client, "/login")
    with_token = [
        (method, url, answer.status_code)
        for method, url in changes
        for answer in [client.open(url, method=method, data={"csrf_token": token})]
        if not refused_sign_in(answer, url)
    ]
    assert with_token == []
    assert AuditEvent.select().count() == 0


def test_every_change_needs_a_csrf_token_when_signed_in(app, admin_client):
    wrong = [
        (method, url, answer.status_code)
        for method, url, _ in routes(app)
        if method in CHANGES
        for answer in [admin_client.open(url, method=method, data={"x": "1"})]
        if answer.status_code != 400 or b"form expired" not in answer.data
    ]
    assert wrong == []


def test_health_check_is_public(app):
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}


def test_metrics_needs_its_own_token(box, users):
    from appliance.web import create_app

    assert create_app(box).test_client().get("/metrics").status_code == 404
    client = create_app(box.with_overrides(metrics_token="scrape-token-1234567890")).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-1234567890"}).status_code == 401
    scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-1234567890"})
    assert scraped.status_code == 200 and scraped.mimetype == "text/plain"


def test_no_state_changes_on_get(admin_client):
    assert admin_client.get("/logout").status_code == 405
    assert admin_client.get("/quarantine/1/retry").status_code == 405


def test_sign_in_rotates_the_session_and_is_audited(app, users):
    client = app.test_client()
    client.get("/login")
    before = client.get_cookie("digifort_box").value
    response = sign_in(client, "bob")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get_cookie("digifort_box").value != before
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert WebSession.select().where(WebSession.ended_at.is_null()).count() == 1
    assert AuditEvent.get(AuditEvent.action == "auth.login").actor == "bob"
    assert client.get("/").status_code == 200


def test_wrong_password_is_refused_the_same_way_as_an_unknown_user(app, users):
    client = app.test_client()
    wrong = sign_in(client, "bob", "not-the-password")
    unknown = sign_in(client, "nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert b"Wrong username or password" in wrong.data and b"Wrong username or password" in unknown.data
    assert AuditEvent.select().where(AuditEvent.action == "auth.login_failed").count() == 2


def test_open_redirect_after_sign_in_is_refused(app, users):
    client = app.test_client()
    token = token_of(client, "/login")
    response = client.post(
        "/login?next=//evil.example/x", data={"username": "bob", "password": "bob-password-12", "csrf_token": token}
    )
    assert response.headers["Location"] == "/"


def test_failed_sign_ins_lock_the_account_with_a_clear_message(app, users):
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, "bob", "guess-guess-guess").status_code == 401
    locked = sign_in(client, "bob")
    assert locked.status_code == 429
    assert b"Too many sign-in attempts" in locked.data
    assert sign_in(app.test_client(), "alice").status_code == 302


def test_failed_sign_ins_from_one_address_are_limited_across_accounts(box, users):
    from appliance.web import create_app

    client = create_app(box.with_overrides(login_limit_per_address="8 per 5 minutes")).test_client()
    for n in range(8):
        sign_in(client, f"user{n}", "guess-guess-guess")
    assert sign_in(client, "alice").status_code == 429


def test_staff_cannot_reach_admin_pages(staff_client):
    for path in ("/audit", "/audit.csv", "/admin/users"):
        assert staff_client.get(path).status_code == 403
    token = token_of(staff_client)
    assert staff_client.post("/quarantine/1/discard", data={"csrf_token": token}).status_code == 403
    assert (
        staff_client.post(
            "/admin/users", data={"csrf_token": token, "username": "eve", "password": "eve-password-1", "role": "admin"}
        ).status_code
        == 403
    )


def test_sign_out_ends_the_session_on_the_server(staff_client):
    response = staff_client.post("/logout", data={"csrf_token": token_of(staff_client)})
    assert response.status_code == 302
    assert WebSession.get().end_reason == "signed out"
    assert staff_client.get("/").status_code == 302


def test_disabling_a_user_ends_their_sessions(staff_client, users):
    assert staff_client.get("/").status_code == 200
    set_active(users["staff"], False, actor="alice")
    assert staff_client.get("/").status_code == 302
    assert sign_in(staff_client, "bob").status_code == 401


def test_idle_session_ends_on_the_server_and_status_does_not_extend_it(box, users):
    from appliance.web import create_app

    app = create_app(box.with_overrides(idle_minutes=1.5 / 60))
    client = app.test_client()
    assert sign_in(client, "bob").status_code == 302
    assert client.get("/session/status").get_json()["seconds_left"] >= 1
    time.sleep(0.8)
    assert client.get("/session/status").status_code == 200
    time.sleep(0.9)
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert WebSession.get().end_reason == "idle timeout"
    assert b"signed out because the session ended" in client.get("/login").data


def test_stay_signed_in_restarts_the_idle_clock(box, users):
    from appliance.web import create_app

    app = create_app(box.with_overrides(idle_minutes=1.5 / 60))
    client = app.test_client()
    sign_in(client, "bob")
    for _ in range(3):
        time.sleep(0.8)
        token = token_of(client, "/upload")
        assert client.post("/session/keepalive", headers={"X-CSRFToken": token}).status_code == 200
    assert client.get("/upload").status_code == 200


def test_security_headers(admin_client):
    headers = admin_client.get("/").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"


def test_secure_cookie_when_served_over_tls(box, users):
    from appliance.web import create_app

    app = create_app(box.with_overrides(secure_cookies=True))
    client = app.test_client()
    response = sign_in(client, "bob")
    assert "Secure" in response.headers["Set-Cookie"]


def test_pages_carry_no_inline_script(admin_client):
    html = admin_client.get("/").get_data(as_text=True)
    assert "<script>" not in html and "onclick" not in html


def test_background_polling_does_not_keep_an_idle_session_alive(box, users):
    from appliance.web import create_app

    app = create_app(box.with_overrides(idle_minutes=1.5 / 60))
    client = app.test_client()
    sign_in(client, "bob")
    for _ in range(4):
        time.sleep(0.5)
        client.get("/api/dashboard")
    assert client.get("/api/dashboard").status_code == 401
