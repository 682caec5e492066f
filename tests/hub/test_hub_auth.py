"""Head office sign-in: JWT cookie over a server-side session, revocation, timeouts, CSRF, limits."""

import datetime as dt

import jwt

from cloud_hub import sessions
from cloud_hub.db import database
from cloud_hub.models import AuditEvent, HubSession
from cloud_hub.tenancy import set_active, set_password
from tests.hub_fixtures import HUB_PASSWORD, csrf_header, sign_in


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
    no_csrf = client.post("/login", data={"email": "admin@acme.test", "password": HUB_PASSWORD})
    assert no_csrf.status_code == 400 or (no_csrf.status_code == 200 and "Sign in" in no_csrf.get_data(as_text=True))
