"""Head office sign-in: JWT cookie over a server-side session, revocation, timeouts, CSRF, limits;
every route but the few listed public ones turns strangers away."""

import datetime as dt
import re

import jwt

from cloud_hub import sessions
from cloud_hub.db import database
from cloud_hub.models import AuditEvent, HubSession
from cloud_hub.tenancy import set_active, set_password
from tests.hub_fixtures import HUB_PASSWORD, csrf_header, sign_in

# The endpoints a stranger may reach, each with the reason; every other route of the hub (read
# from app.url_map, so a new one cannot be left out) must turn a stranger away.
PUBLIC = {
    "hub_auth.login": "the sign-in form itself",
    "hub_auth.token": "API sign-in: email and password in, session cookie out",
    "hub_auth.second_factor": "the second step of a sign-in; with none pending it sends to /login (test_hub_mfa.py)",
    "hub_auth.setup_at_sign_in": "setup due at sign-in; with none pending it sends to /login (test_hub_mfa.py)",
    "healthz": "the health check for the load balancer; it answers only {'ok': true}",
    "static": "stylesheets and scripts, no clinic data",
    "hub_metrics.metrics": "Prometheus scrapes it with its own bearer token (test_metrics_needs_its_own_token)",
    "sync_api.enrol": "a new box has no key yet: it proves itself with a one-time enrolment token in the body",
    "sync_api.enroll": "the old spelling of sync_api.enrol, kept for boxes in the field",
    "sync_api.clock": "the hub's time, so that a box with a wrong clock can sign its first request",
}
CHANGES = {"POST", "PUT", "PATCH", "DELETE"}


def routes(app):
    """(method, url, endpoint) for every route of `app` but the public ones (1 for each URL part)."""
    return sorted(
        (method, re.sub(r"<(?:\w+:)?\w+>", "1", rule.rule), rule.endpoint)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if rule.endpoint not in PUBLIC
    )


def refused(response, url) -> bool:
    """The device-signed sync API and the JSON API answer a stranger 401; pages send them to sign in."""
    if url.startswith("/api/"):
        return response.status_code == 401
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def anonymous_csrf_token(client) -> str:
    """The CSRF token a stranger gets with the sign-in form."""
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_the_public_endpoints_are_exactly_those_listed(hub_app):
    from cloud_hub.web.access import PUBLIC_ENDPOINTS

    endpoints = {rule.endpoint for rule in hub_app.url_map.iter_rules()}
    assert set(PUBLIC) <= endpoints
    assert {endpoint for endpoint in PUBLIC if not endpoint.startswith("sync_api.")} == PUBLIC_ENDPOINTS
    protected = {endpoint for _, _, endpoint in routes(hub_app)}
    assert {"hub_ui.dashboard", "hub_api.original", "hub_auth.me", "sync_api.commit_batch"} <= protected


def test_every_route_refuses_strangers(hub_app, records):
    client = hub_app.test_client()
    wrong = [
        (method, url, answer.status_code, answer.headers.get("Location"))
        for method, url, _ in routes(hub_app)
        for answer in [client.open(url, method=method)]
        # a change without a CSRF token is refused before anything else (400)
        if not (refused(answer, url) or (method in CHANGES and answer.status_code == 400))
    ]
    assert wrong == []


def test_every_change_refuses_strangers_that_hold_a_csrf_token(hub_app, records):
    client = hub_app.test_client()
    token = anonymous_csrf_token(client)
    changes = [(method, url) for method, url, _ in routes(hub_app) if method in CHANGES]
    assert changes
    wrong = [
        (method, url, answer.status_code)
        for method, url in changes
        for answer in [client.open(url, method=method, data={"csrf_token": token}, headers={"X-CSRFToken": token})]
        if not refused(answer, url)
    ]
    assert wrong == []
    with database.connection_context():
        assert not AuditEvent.select().where(AuditEvent.actor == "anonymous").exists()


def test_enrolment_without_a_token_is_refused(hub_app, tenants):
    client = hub_app.test_client()
    for path in ("/api/v1/sync/enrol", "/api/v1/sync/enroll"):
        answer = client.post(path, json={"public_key": "x", "name": "stranger"})
        assert answer.status_code == 400 and answer.get_json()["error"] == "enrolment_refused"


def test_metrics_needs_its_own_token(hub_app, hub_config):
    from cloud_hub import create_app

    assert hub_app.test_client().get("/metrics").status_code == 404
    client = create_app(hub_config.with_overrides(metrics_token="scrape-token-1234567890")).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-1234567890"}).status_code == 401
    scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-1234567890"})
    assert scraped.status_code == 200 and scraped.mimetype == "text/plain"


def test_token_sets_a_strict_httponly_cookie_and_me_answers(hub_app, people):
    client = hub_app.test_client()
    answer = client.post("/api/auth/token", json={"email": "Admin@Acme.test", "password": HUB_PASSWORD})
    cookie = answer.headers["Set-Cookie"]
    assert answer.status_code == 200 and answer.get_json()["user"]["role"] == "org_admin"
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and cookie.startswith(sessions.COOKIE)
    me = client.get("/api/auth/me").get_json()
    assert me["user"]["email"] == "admin@acme.test" and me["organisation"]["name"] == "Acme Health"
    with database.connection_context():
        assert AuditEvent.select().where(AuditEvent.action == "login").count() == 1


def test_wrong_password_unknown_user_and_disabled_user_get_the_same_answer(hub_app, people):
    client = hub_app.test_client()
    with database.connection_context():
        set_active(people["it"], False, actor="test")
    answers = [
        client.post("/api/auth/token", json={"email": email, "password": password})
        for email, password in (
            ("admin@acme.test", "wrong-password-1"),
            ("nobody@acme.test", HUB_PASSWORD),
            ("it@acme.test", HUB_PASSWORD),
        )
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert len({a.get_json()["message"] for a in answers}) == 1
    assert client.get("/api/auth/me").status_code == 401


def test_logout_disable_and_password_change_each_end_the_session(hub_app, people):
    client = sign_in(hub_app, "admin@acme.test")
    assert client.post("/api/auth/logout", headers=csrf_header(client)).status_code == 200
    assert client.get("/api/auth/me").status_code == 401
    viewer = sign_in(hub_app, "vera@acme.test")
    kept_cookie = viewer.get_cookie(sessions.COOKIE).value
    with database.connection_context():
        set_active(people["viewer"], False, actor="test")
    viewer.set_cookie(sessions.COOKIE, kept_cookie)
    assert viewer.get("/api/auth/me").status_code == 401
    it = sign_in(hub_app, "it@acme.test")
    with database.connection_context():
        set_password(people["it"], "a-brand-new-pass", actor="test")
    assert it.get("/api/auth/me").status_code == 401
    assert sign_in(hub_app, "it@acme.test", "a-brand-new-pass").get("/api/auth/me").status_code == 200


def test_idle_and_absolute_timeouts_end_the_session_on_the_server(hub_app, people):
    idle = sign_in(hub_app, "admin@acme.test")
    absolute = sign_in(hub_app, "it@acme.test")
    with database.connection_context():
        long_ago = dt.datetime.utcnow() - dt.timedelta(hours=2)
        admin_session = HubSession.get(HubSession.user == people["admin"])
        HubSession.update(last_seen_at=long_ago).where(HubSession.id == admin_session.id).execute()
        it_session = HubSession.get(HubSession.user == people["it"])
        HubSession.update(expires_at=long_ago).where(HubSession.id == it_session.id).execute()
    assert idle.get("/api/auth/me").status_code == 401
    assert absolute.get("/api/auth/me").status_code == 401
    with database.connection_context():
        assert HubSession.get_by_id(admin_session.id).end_reason == "idle"
        assert HubSession.get_by_id(it_session.id).end_reason == "expired"


def test_forged_or_altered_tokens_are_refused(hub_app, people):
    client = sign_in(hub_app, "admin@acme.test")
    token = client.get_cookie(sessions.COOKIE).value
    claims = jwt.decode(token, options={"verify_signature": False})
    forgeries = [
        jwt.encode(claims, "not-the-hub-key-but-long-enough-for-hs256", algorithm="HS256"),
        jwt.encode({**claims, "aud": "someone-else"}, hub_app.config["SECRET_KEY"], algorithm="HS256"),
        jwt.encode({**claims, "sub": str(people["other_admin"].id)}, hub_app.config["SECRET_KEY"], algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
    ]
    for forged in forgeries:
        attacker = hub_app.test_client()
        attacker.set_cookie(sessions.COOKIE, forged)
        assert attacker.get("/api/auth/me").status_code == 401


def test_state_changes_need_the_csrf_token(hub_app, people):
    client = sign_in(hub_app, "admin@acme.test")
    assert client.post("/api/auth/logout").status_code == 400
    assert client.get("/api/auth/me").status_code == 200


def test_failed_sign_ins_are_limited_per_account_with_a_clear_answer(hub_app, people):
    client = hub_app.test_client()
    codes = [
        client.post("/api/auth/token", json={"email": "admin@acme.test", "password": f"wrong-{n}-password"}).status_code
        for n in range(6)
    ]
    assert codes == [401] * 5 + [429]
    limited = client.post("/api/auth/token", json={"email": "admin@acme.test", "password": HUB_PASSWORD})
    assert limited.status_code == 429 and limited.get_json()["retry"] is True


def test_the_sign_in_form_leads_to_the_dashboard_and_pages_need_a_session(hub_app, people):
    client = hub_app.test_client()
    away = client.get("/search?q=x")
    assert away.status_code == 302 and "/login" in away.headers["Location"]
    assert client.get("/api/v1/patients").status_code == 401
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    signed = client.post("/login", data={"email": "admin@acme.test", "password": HUB_PASSWORD, "csrf_token": token})
    assert signed.status_code == 302 and signed.headers["Location"].endswith("/")
    dashboard = client.get("/")
    html = dashboard.get_data(as_text=True)
    assert dashboard.status_code == 200 and "North" in html and "South" in html and "Elsewhere" not in html
    assert "script-src 'self'" in dashboard.headers["Content-Security-Policy"]
    assert dashboard.headers["X-Frame-Options"] == "DENY" and dashboard.headers["X-Content-Type-Options"] == "nosniff"
    stranger = hub_app.test_client()
    no_csrf = stranger.post("/login", data={"email": "admin@acme.test", "password": HUB_PASSWORD})
    assert no_csrf.status_code == 400 and stranger.get("/").status_code == 302
