"""Two-step sign-in, the password policy, changing one's own password and lifting a lock-out on the
box, through the real forms."""

import re
import time

import pyotp
import pytest

from appliance.models import AuditEvent, RecoveryCode, SignInChallenge, User, WebSession
from appliance.users import UserError, create_user, reset_password
from tests.conftest import PASSWORDS, csrf_from, sign_in, token_of


def secret_shown(html: str) -> str:
    return re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', html).group(1)


def recovery_codes_shown(html: str) -> list[str]:
    block = re.search(r'id="recovery-codes">(.*?)</ol>', html, re.S).group(1)
    return re.findall(r"<li>([a-z0-9-]+)</li>", block)


def next_code(secret: str) -> str:
    """The code of the next time step: the current one may already have been used (no replay)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def set_up_mfa(client) -> tuple[str, list[str]]:
    """Set up two-step sign-in from the Security page; the secret shown and the recovery codes."""
    page = client.get("/account/mfa/setup").get_data(as_text=True)
    secret = secret_shown(page)
    assert 'src="data:image/png;base64,' in page
    done = client.post("/account/mfa/setup", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(page)})
    assert done.status_code == 200
    return secret, recovery_codes_shown(done.get_data(as_text=True))


def send_code(client, code: str):
    token = token_of(client, "/login/code")
    return client.post("/login/code", data={"code": code, "csrf_token": token})


def sign_out(client):
    client.post("/logout", data={"csrf_token": token_of(client)})


def test_staff_sets_up_mfa_and_then_signs_in_with_password_and_code(app, staff_client, users):
    secret, codes = set_up_mfa(staff_client)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "10</strong> of 10 recovery codes left" in staff_client.get("/account").get_data(as_text=True)
    sign_out(staff_client)

    client = app.test_client()
    halfway = sign_in(client, "bob")
    assert halfway.status_code == 302 and halfway.headers["Location"] == "/login/code"
    # the password alone opens no session: every page still sends to sign in
    assert WebSession.select().where(WebSession.ended_at.is_null()).count() == 0
    assert client.get("/").headers["Location"].startswith("/login")
    assert send_code(client, "000000").status_code == 401
    done = send_code(client, next_code(secret))
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert AuditEvent.select().where(AuditEvent.action == "auth.mfa_failed").count() == 1
    last_login = AuditEvent.select().where(AuditEvent.action == "auth.login").order_by(AuditEvent.id.desc()).first()
    assert last_login.detail == {"factor": "totp"}


def test_a_code_is_accepted_once_only(app, staff_client, users):
    secret, _ = set_up_mfa(staff_client)
    code = next_code(secret)
    first, second = app.test_client(), app.test_client()
    sign_in(first, "bob")
    sign_in(second, "bob")
    assert send_code(first, code).status_code == 302
    assert send_code(second, code).status_code == 401


def test_a_recovery_code_signs_in_once_and_the_count_goes_down(app, staff_client, users):
    _, codes = set_up_mfa(staff_client)
    sign_out(staff_client)
    client = app.test_client()
    sign_in(client, "bob")
    used = send_code(client, codes[3].upper())
    assert used.status_code == 302
    assert "9 left" in client.get("/").get_data(as_text=True)
    sign_out(client)
    sign_in(client, "bob")
    assert send_code(client, codes[3]).status_code == 401
    assert RecoveryCode.select().where(RecoveryCode.used_at.is_null()).count() == 9


def test_wrong_codes_count_against_the_accounts_sign_in_limit(app, staff_client, users):
    set_up_mfa(staff_client)
    client = app.test_client()
    sign_in(client, "bob")
    for _ in range(5):
        assert send_code(client, "123456").status_code == 401
    # the budget is the account's, shared with passwords: the right password is now refused too
    locked = sign_in(app.test_client(), "bob")
    assert locked.status_code == 429 and b"Too many sign-in attempts" in locked.data


def test_the_secret_is_sealed_in_the_database_and_kept_out_of_the_audit_trail(staff_client, users):
    secret, codes = set_up_mfa(staff_client)
    stored = User.get(User.username == "bob")
    assert stored.totp_secret and secret not in stored.totp_secret and stored.totp_pending is None
    trail = " ".join(str(event.detail) for event in AuditEvent.select())
    assert secret not in trail and codes[0] not in trail
    assert all(code not in " ".join(row.code_hash for row in RecoveryCode.select()) for code in codes)
    assert "totp-secret" not in staff_client.get("/account").get_data(as_text=True)


def test_second_step_pages_without_a_pending_sign_in_send_to_sign_in(app, users):
    client = app.test_client()
    token = token_of(client, "/login")
    for path in ("/login/code", "/login/setup"):
        assert client.get(path).headers["Location"] == "/login"
        assert client.post(path, data={"code": "123456", "csrf_token": token}).headers["Location"] == "/login"
    assert SignInChallenge.select().count() == 0
    assert AuditEvent.select().where(AuditEvent.action.startswith("auth.")).count() == 0


def test_an_expired_pending_sign_in_cannot_finish(app, staff_client, users):
    secret, _ = set_up_mfa(staff_client)
    client = app.test_client()
    sign_in(client, "bob")
    token = token_of(client, "/login/code")
    SignInChallenge.update(expires_at=SignInChallenge.created_at).execute()
    late = client.post("/login/code", data={"code": next_code(secret), "csrf_token": token})
    assert late.headers["Location"] == "/login" and client.get("/").status_code == 302


def test_admins_must_set_up_mfa_at_sign_in_when_the_box_requires_it(box, users):
    from appliance.web import create_app

    app = create_app(box.with_overrides(require_mfa=True))
    client = app.test_client()
    halfway = sign_in(client, "alice")
    assert halfway.headers["Location"] == "/login/setup"
    assert client.get("/admin/users").headers["Location"].startswith("/login")
    page = client.get("/login/setup").get_data(as_text=True)
    secret = secret_shown(page)
    assert client.post("/login/setup", data={"code": "999999", "csrf_token": csrf_from(page)}).status_code == 401
    done = client.post("/login/setup", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_from(page)})
    assert done.status_code == 200 and len(recovery_codes_shown(done.get_data(as_text=True))) == 10
    assert client.get("/admin/users").status_code == 200
    # an admin who must have it cannot turn it off; staff still sign in with a password only
    off = client.post("/account/mfa/off", data={"current_password": PASSWORDS["alice"], "csrf_token": token_of(client)})
    assert off.status_code == 403 and User.get(User.username == "alice").has_mfa
    assert sign_in(app.test_client(), "bob").headers["Location"] == "/"


def test_staff_turn_mfa_off_with_their_password(staff_client, users):
    set_up_mfa(staff_client)
    token = token_of(staff_client, "/account")
    wrong = staff_client.post("/account/mfa/off", data={"current_password": "not-my-password", "csrf_token": token})
    assert wrong.status_code == 401 and User.get(User.username == "bob").has_mfa
    staff_client.post("/account/mfa/off", data={"current_password": PASSWORDS["bob"], "csrf_token": token})
    assert not User.get(User.username == "bob").has_mfa and RecoveryCode.select().count() == 0


def test_an_admin_resets_a_lost_second_factor_and_it_is_audited(app, admin_client, staff_client, users):
    set_up_mfa(staff_client)
    bob = User.get(User.username == "bob")
    assert ">Reset</button>" in admin_client.get("/admin/users").get_data(as_text=True)
    admin_client.post(f"/admin/users/{bob.id}/mfa/reset", data={"csrf_token": token_of(admin_client)})
    assert not User.get_by_id(bob.id).has_mfa
    event = AuditEvent.get(AuditEvent.action == "mfa.reset")
    assert (event.actor, event.object_id) == ("alice", str(bob.id))
    assert sign_in(app.test_client(), "bob").headers["Location"] == "/"


def test_an_admin_lifts_a_lock_out_and_it_is_audited(app, admin_client, users):
    for _ in range(5):
        sign_in(app.test_client(), "bob", "guess-guess-guess")
    assert sign_in(app.test_client(), "bob").status_code == 429
    page = admin_client.get("/admin/users").get_data(as_text=True)
    assert "locked out" in page
    bob = User.get(User.username == "bob")
    admin_client.post(f"/admin/users/{bob.id}/lockout/lift", data={"csrf_token": token_of(admin_client)})
    assert sign_in(app.test_client(), "bob").status_code == 302
    assert AuditEvent.get(AuditEvent.action == "auth.lockout_lifted").object_id == str(bob.id)
    assert "locked out" not in admin_client.get("/admin/users").get_data(as_text=True)


def test_staff_change_their_own_password(app, staff_client, users):
    other = app.test_client()
    sign_in(other, "bob")
    token = token_of(staff_client, "/account")

    def change(current, new, repeat=None):
        form = {"current_password": current, "new_password": new, "repeat_password": repeat or new}
        return staff_client.post("/account/password", data={**form, "csrf_token": token})

    assert change("not-my-password", "otter-violin-cobalt").status_code == 401
    weak = change(PASSWORDS["bob"], "Password123!")
    assert weak.status_code == 400 and b"too easy to guess" in weak.data
    assert change(PASSWORDS["bob"], "otter-violin-cobalt", "otter-violin-cobal").status_code == 400
    assert change(PASSWORDS["bob"], "otter-violin-cobalt").status_code == 302
    # this browser stays signed in, the other one is signed out; the new password works
    assert staff_client.get("/").status_code == 200 and other.get("/").status_code == 302
    assert sign_in(app.test_client(), "bob", "otter-violin-cobalt").status_code == 302
    assert AuditEvent.get(AuditEvent.action == "user.password_change").actor == "bob"


def test_weak_passwords_are_refused_when_users_are_added_or_reset(admin_client, users):
    for weak in ("Password123!", "bob-bob-bob-bob"):
        with pytest.raises(UserError, match="too easy to guess"):
            reset_password(users["staff"], weak, actor="alice")
    added = admin_client.post(
        "/admin/users",
        data={"username": "carol", "password": "iloveyou12345", "role": "staff", "csrf_token": token_of(admin_client)},
        follow_redirects=True,
    )
    assert b"too easy to guess" in added.data and not User.select().where(User.username == "carol").exists()
    assert create_user("carol", "otter-violin-cobalt").username == "carol"


def test_an_operator_removes_a_second_factor_from_the_command_line(tmp_path):
    import os
    import sqlite3
    import subprocess
    import sys

    env = dict(os.environ, APPLIANCE_DATA_DIR=str(tmp_path / "box"))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "appliance", *args], env=env, capture_output=True, text=True)

    weak = cli("init", "--admin-password", "Password123!")
    assert weak.returncode == 2 and "too easy to guess" in weak.stderr
    cli("init", "--admin-password", "otter-violin-cobalt")
    with sqlite3.connect(tmp_path / "box" / "appliance.db") as db:
        db.execute("UPDATE user SET totp_secret = 'sealed' WHERE username = 'admin'")
    reset = cli("reset-mfa", "admin")
    assert reset.returncode == 0 and "removed" in reset.stdout
    assert cli("reset-mfa", "nobody").returncode == 2
    with sqlite3.connect(tmp_path / "box" / "appliance.db") as db:
        assert db.execute("SELECT totp_secret FROM user").fetchone() == (None,)
        assert db.execute("SELECT actor FROM audit_event WHERE action = 'mfa.reset'").fetchone() == ("cli",)
