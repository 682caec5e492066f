"""Two-step sign-in at the hub (required for org_admin and it after the grace period, optional for
others), the password policy, changing one's own password, and an admin resetting a second factor
or lifting a lock-out; through the real forms and API."""

import datetime as dt
import re
import time

import pyotp
import pytest

from cloud_hub.db import database
from cloud_hub.models import AuditEvent, HubSession, RecoveryCode, SignInChallenge, User, utcnow
from cloud_hub.tenancy import TenancyError, create_user, set_password
from tests.conftest import csrf_from
from tests.hub_fixtures import HUB_PASSWORD, sign_in


def secret_shown(html: str) -> str:
    return re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', html).group(1)


def recovery_codes_shown(html: str) -> list[str]:
    block = re.search(r'id="recovery-codes">(.*?)</ol>', html, re.S).group(1)
    return re.findall(r"<li>([a-z0-9-]+)</li>", block)


def next_code(secret: str) -> str:
    """The code of the next time step: the current one may already have been used (no replay)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def form_sign_in(client, email: str, password: str = HUB_PASSWORD):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def send_code(client, code: str, path: str = "/login/code"):
    token = csrf_from(client.get(path).get_data(as_text=True))
    return client.post(path, data={"code": code, "csrf_token": token})


def set_up_mfa(client) -> tuple[str, list[str]]:
    """Set up two-step sign-in from the Security page; the secret shown and the recovery codes."""
    page = client.get("/security/mfa/setup").get_data(as_text=True)
    secret = secret_shown(page)
    assert 'src="data:image/png;base64,' in page
    done = client.post("/security/mfa/setup", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(page)})
    assert done.status_code == 200
    return secret, recovery_codes_shown(done.get_data(as_text=True))


def past_grace(email: str):
    with database.connection_context():
        User.update(mfa_grace_from=utcnow() - dt.timedelta(days=8)).where(User.email == email).execute()


def open_sessions() -> int:
    with database.connection_context():
        return HubSession.select().where(HubSession.ended_at.is_null()).count()


def test_during_the_grace_period_an_org_admin_signs_in_and_is_asked_to_set_it_up(hub_app, people):
    client = hub_app.test_client()
    signed = form_sign_in(client, "admin@acme.test")
    assert signed.status_code == 302 and signed.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "must use two-step sign-in from" in page and "Security page" in page
    assert "must use it from" in client.get("/security").get_data(as_text=True)


def test_past_the_grace_period_an_org_admin_cannot_sign_in_without_setting_it_up(hub_app, people):
    past_grace("admin@acme.test")
    client = hub_app.test_client()
    halfway = form_sign_in(client, "admin@acme.test")
    assert halfway.headers["Location"] == "/login/setup"
    assert open_sessions() == 0
    assert client.get("/users").headers["Location"].startswith("/login")
    api = hub_app.test_client().post("/api/auth/token", json={"email": "admin@acme.test", "password": HUB_PASSWORD})
    assert api.status_code == 403 and api.get_json()["error"] == "mfa_setup_required"
    assert open_sessions() == 0

    page = client.get("/login/setup").get_data(as_text=True)
    secret = secret_shown(page)
    assert send_code(client, "000000", "/login/setup").status_code == 401
    done = client.post("/login/setup", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(page)})
    assert done.status_code == 200 and len(recovery_codes_shown(done.get_data(as_text=True))) == 10
    assert client.get("/users").status_code == 200 and open_sessions() == 1


def test_the_it_role_is_held_to_it_too_but_viewers_are_not(hub_app, people):
    for email in ("it@acme.test", "vera@acme.test"):
        past_grace(email)
    assert form_sign_in(hub_app.test_client(), "it@acme.test").headers["Location"] == "/login/setup"
    assert form_sign_in(hub_app.test_client(), "vera@acme.test").headers["Location"] == "/"


def test_the_grace_period_is_a_setting(hub_app, hub_config, people):
    from cloud_hub import create_app

    strict = create_app(hub_config.with_overrides(mfa_grace_days=0))
    assert form_sign_in(strict.test_client(), "admin@acme.test").headers["Location"] == "/login/setup"


def test_a_viewer_sets_it_up_and_then_signs_in_with_password_and_code(hub_app, people):
    viewer = sign_in(hub_app, "vera@acme.test")
    secret, _ = set_up_mfa(viewer)
    assert "10</strong> of 10 recovery codes left" in viewer.get("/security").get_data(as_text=True)
    viewer.post("/api/auth/logout", headers={"X-CSRFToken": viewer.get("/api/auth/me").get_json()["csrf_token"]})

    client = hub_app.test_client()
    halfway = form_sign_in(client, "vera@acme.test")
    assert halfway.headers["Location"] == "/login/code"
    assert open_sessions() == 0 and client.get("/search").headers["Location"].startswith("/login")
    assert send_code(client, "123456").status_code == 401
    done = send_code(client, next_code(secret))
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert client.get("/search").status_code == 200
    # the same code a second time is refused (no replay), through the API too
    again = hub_app.test_client()
    form_sign_in(again, "vera@acme.test")
    assert send_code(again, next_code(secret)).status_code == 401
    with database.connection_context():
        assert AuditEvent.select().where(AuditEvent.action == "mfa_failed").count() == 2


def test_the_api_needs_the_code_once_it_is_set_up(hub_app, people):
    secret, _ = set_up_mfa(sign_in(hub_app, "vera@acme.test"))
    client = hub_app.test_client()
    login = {"email": "vera@acme.test", "password": HUB_PASSWORD}
    without = client.post("/api/auth/token", json=login)
    assert without.status_code == 401 and without.get_json()["error"] == "code_required"
    assert client.post("/api/auth/token", json={**login, "code": "123456"}).status_code == 401
    assert client.post("/api/auth/token", json={**login, "code": next_code(secret)}).status_code == 200
    assert client.get("/api/auth/me").status_code == 200


def test_a_recovery_code_works_once(hub_app, people):
    _, codes = set_up_mfa(sign_in(hub_app, "vera@acme.test"))
    client = hub_app.test_client()
    form_sign_in(client, "vera@acme.test")
    assert send_code(client, codes[0]).status_code == 302
    assert "9 left" in client.get("/").get_data(as_text=True)
    other = hub_app.test_client()
    form_sign_in(other, "vera@acme.test")
    assert send_code(other, codes[0]).status_code == 401
    with database.connection_context():
        assert RecoveryCode.select().where(RecoveryCode.used_at.is_null()).count() == 9


def test_wrong_codes_count_against_the_accounts_sign_in_limit(hub_app, people):
    set_up_mfa(sign_in(hub_app, "vera@acme.test"))
    client = hub_app.test_client()
    form_sign_in(client, "vera@acme.test")
    for _ in range(5):
        assert send_code(client, "654321").status_code == 401
    locked = hub_app.test_client().post("/api/auth/token", json={"email": "vera@acme.test", "password": HUB_PASSWORD})
    assert locked.status_code == 429


def test_the_secret_is_sealed_and_never_shown_again(hub_app, people):
    viewer = sign_in(hub_app, "vera@acme.test")
    secret, codes = set_up_mfa(viewer)
    with database.connection_context():
        stored = User.get(User.email == "vera@acme.test")
        trail = " ".join(str(event.detail) for event in AuditEvent.select())
    assert stored.totp_secret and secret not in stored.totp_secret and stored.totp_pending is None
    assert secret not in trail and codes[0] not in trail
    assert "totp-secret" not in viewer.get("/security").get_data(as_text=True)


def test_second_step_pages_without_a_pending_sign_in_send_to_sign_in(hub_app, people):
    client = hub_app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    for path in ("/login/code", "/login/setup"):
        assert client.get(path).headers["Location"] == "/login"
        assert client.post(path, data={"code": "123456", "csrf_token": token}).headers["Location"] == "/login"
    with database.connection_context():
        assert SignInChallenge.select().count() == 0


def test_an_admin_resets_a_lost_second_factor_and_it_is_audited(hub_app, people):
    set_up_mfa(sign_in(hub_app, "vera@acme.test"))
    admin = sign_in(hub_app, "admin@acme.test")
    token = csrf_from(admin.get("/users").get_data(as_text=True))
    assert "Reset two-step sign-in of vera@acme.test" in admin.get("/users").get_data(as_text=True)
    admin.post(f"/users/{people['viewer'].id}/mfa/reset", data={"csrf_token": token})
    with database.connection_context():
        assert not User.get_by_id(people["viewer"].id).has_mfa
        event = AuditEvent.get(AuditEvent.action == "mfa.reset")
    assert (event.actor, event.object_id) == ("admin@acme.test", str(people["viewer"].id))
    assert form_sign_in(hub_app.test_client(), "vera@acme.test").headers["Location"] == "/"
    # another organisation's users are not there to reset
    assert admin.post(f"/users/{people['other_admin'].id}/mfa/reset", data={"csrf_token": token}).status_code == 404


def test_an_admin_limited_to_one_clinic_cannot_reset_an_unrestricted_admin(hub_app, tenants, people):
    with database.connection_context():
        create_user(tenants["acme"], "north-admin@acme.test", HUB_PASSWORD, "org_admin", [tenants["north"]])
    limited = sign_in(hub_app, "north-admin@acme.test")
    token = csrf_from(limited.get("/users").get_data(as_text=True))
    assert limited.post(f"/users/{people['admin'].id}/mfa/reset", data={"csrf_token": token}).status_code == 403
    assert limited.post(f"/users/{people['admin'].id}/lockout/lift", data={"csrf_token": token}).status_code == 403
    assert limited.post(f"/users/{people['viewer'].id}/mfa/reset", data={"csrf_token": token}).status_code == 302


def test_an_admin_lifts_a_lock_out_and_it_is_audited(hub_app, people):
    for n in range(5):
        hub_app.test_client().post("/api/auth/token", json={"email": "vera@acme.test", "password": f"wrong-{n}-pw"})
    assert form_sign_in(hub_app.test_client(), "vera@acme.test").status_code == 429
    admin = sign_in(hub_app, "admin@acme.test")
    page = admin.get("/users").get_data(as_text=True)
    assert "Lift the lock-out of vera@acme.test" in page
    admin.post(f"/users/{people['viewer'].id}/lockout/lift", data={"csrf_token": csrf_from(page)})
    assert form_sign_in(hub_app.test_client(), "vera@acme.test").status_code == 302
    with database.connection_context():
        assert AuditEvent.get(AuditEvent.action == "lockout_lifted").object_id == str(people["viewer"].id)
    assert "Lift the lock-out of vera@acme.test" not in admin.get("/users").get_data(as_text=True)


def test_a_user_changes_their_own_password(hub_app, people):
    client, other = sign_in(hub_app, "bill@acme.test"), sign_in(hub_app, "bill@acme.test")
    token = csrf_from(client.get("/security").get_data(as_text=True))

    def change(current, new, repeat=None):
        form = {"current_password": current, "new_password": new, "repeat_password": repeat or new}
        return client.post("/security/password", data={**form, "csrf_token": token})

    assert change("not-my-password", "otter-violin-cobalt").status_code == 401
    weak = change(HUB_PASSWORD, "Password123!")
    assert weak.status_code == 400 and "too easy to guess" in weak.get_data(as_text=True)
    assert change(HUB_PASSWORD, "otter-violin-cobalt").status_code == 302
    assert client.get("/api/auth/me").status_code == 200 and other.get("/api/auth/me").status_code == 401
    assert sign_in(hub_app, "bill@acme.test", "otter-violin-cobalt").get("/api/auth/me").status_code == 200


def test_weak_passwords_are_refused_for_new_users_and_resets(hub_app, tenants, people):
    with database.connection_context():
        with pytest.raises(TenancyError, match="too easy to guess"):
            create_user(tenants["acme"], "kim@acme.test", "Password123!", "viewer")
        with pytest.raises(TenancyError, match="too easy to guess"):
            set_password(people["viewer"], "vera@acme.test1", actor="test")


def test_users_there_before_the_upgrade_start_their_grace_period_at_the_upgrade(tmp_path):
    from cloud_hub.db import open_database
    from cloud_hub.migrations import MIGRATIONS, migrate
    from core import migrations as runner

    db = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        runner.migrate(db, [(version, name, sqlite) for version, name, _, sqlite in MIGRATIONS if version < 11])
        db.execute_sql("INSERT INTO organisation (uid, name, created_at) VALUES ('o1', 'Old Org', '2020-01-01')")
        db.execute_sql(
            "INSERT INTO hub_user (organisation_id, email, password_hash, role, active, created_at, "
            "password_changed_at) VALUES (1, 'old@org.test', 'x', 'org_admin', 1, '2020-01-01', '2020-01-01')"
        )
        assert migrate() == [m[0] for m in MIGRATIONS if m[0] >= 11]
        with db.connection_context():
            old = User.get(User.email == "old@org.test")
        # a user made years ago still gets the whole grace period, counted from the upgrade
        assert abs(old.mfa_grace_from - utcnow()) < dt.timedelta(minutes=1) and not old.has_mfa
    finally:
        db.close()


def test_an_operator_removes_a_second_factor_from_the_command_line(tmp_path):
    import os
    import sqlite3
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "S3_BUCKET")}
    env["HUB_DATA_DIR"] = str(tmp_path / "hub")

    def hub_cli(*args):
        return subprocess.run([sys.executable, "-m", "cloud_hub", *args], env=env, capture_output=True, text=True)

    hub_cli("init")
    hub_cli("create-org", "Acme Health")
    weak = hub_cli(
        "create-user", "--org", "Acme Health", "--email", "ann@acme.test", "--role", "it", "--password", "ann@acme.test"
    )
    assert weak.returncode == 2 and "too easy to guess" in weak.stderr
    hub_cli("create-user", "--org", "Acme Health", "--email", "ann@acme.test", "--role", "it")
    with sqlite3.connect(tmp_path / "hub" / "hub.db") as db:
        db.execute("UPDATE hub_user SET totp_secret = 'sealed' WHERE email = 'ann@acme.test'")
    reset = hub_cli("reset-mfa", "--email", "Ann@acme.test")
    assert reset.returncode == 0 and "removed" in reset.stdout
    assert hub_cli("reset-mfa", "--email", "nobody@acme.test").returncode == 2
    with sqlite3.connect(tmp_path / "hub" / "hub.db") as db:
        assert db.execute("SELECT totp_secret FROM hub_user").fetchone() == (None,)
        assert db.execute("SELECT actor FROM audit_event WHERE action = 'mfa.reset'").fetchone() == ("cli",)
