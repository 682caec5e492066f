"""Shared fixtures: an isolated box (data dir, database) per test; the hub's come from `hub_fixtures`."""

from __future__ import annotations

import pytest

from appliance.box import open_box
from appliance.config import Config
from appliance.db import database

pytest_plugins = ["tests.hub_fixtures"]


@pytest.fixture
def box_config(tmp_path) -> Config:
    """A box whose every folder lives under this test's tmp_path, two OCR processes."""
    return Config(
        data_dir=tmp_path / "data",
        inbox=tmp_path / "inbox",
        ocr_processes=2,
        stable_seconds=0.5,
        empty_grace_seconds=3,
        rescan_seconds=1,
        page_timeout_seconds=120,
    )


@pytest.fixture
def box(box_config):
    """The box opened (folders made, database migrated) and closed after the test."""
    open_box(box_config)
    yield box_config
    database.close()


@pytest.fixture
def runner(box):
    """A job runner with a real OCR pool, closed after the test."""
    from appliance.ingest.runner import JobRunner

    job_runner = JobRunner(box)
    yield job_runner
    job_runner.close()


@pytest.fixture
def app(box):
    """The web app on this test's box (idle logoff after 30 minutes unless a test says otherwise)."""
    from appliance.web import create_app

    application = create_app(box.with_overrides(idle_minutes=30))
    application.config["TESTING"] = True
    return application


@pytest.fixture
def users(box):
    """One admin and one staff user, with known passwords."""
    from appliance.users import create_user

    return {
        "admin": create_user("alice", "alice-password-1", role="admin"),
        "staff": create_user("bob", "bob-password-12", role="staff"),
    }


PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-12"}


def csrf_from(html: str) -> str:
    import re

    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def sign_in(client, username: str, password: str | None = None):
    """Sign in through the real login form (CSRF token included)."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login", data={"username": username, "password": password or PASSWORDS[username], "csrf_token": token}
    )


@pytest.fixture
def admin_client(app, users):
    client = app.test_client()
    assert sign_in(client, "alice").status_code == 302
    return client


@pytest.fixture
def staff_client(app, users):
    client = app.test_client()
    assert sign_in(client, "bob").status_code == 302
    return client


def token_of(client, path="/"):
    """A CSRF token from a page the client can see."""
    return csrf_from(client.get(path).get_data(as_text=True))


@pytest.fixture(autouse=True, scope="session")
def _quick_password_hashing():
    """Real argon2, with light cost parameters so that tests signing in often stay quick."""
    from argon2 import PasswordHasher

    from core import passwords

    passwords.hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
