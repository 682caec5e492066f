"""The demo hub for `make demo`: embedded default (SQLite, local blobs, in-process jobs) under
./demo-data/hub, one organisation with one clinic, and a head-office login."""

from __future__ import annotations

from pathlib import Path

from core.passwords import generate_password

from .config import HubConfig
from .db import database
from .devices import issue_enrolment_token
from .hub import open_hub
from .models import Clinic, Organisation, User
from .tenancy import create_clinic, create_organisation, create_user

DEMO_ORGANISATION, DEMO_CLINIC, DEMO_EMAIL = "Demo Health", "Demo Clinic", "head.office@demo.example"


def demo_hub_config(data_dir: Path, bind: str) -> HubConfig:
    return HubConfig(data_dir=data_dir, bind=bind, secure_cookies=False, web_workers=2)


def demo_hub_env(config: HubConfig) -> dict[str, str]:
    """What the demo hub's `serve` process is started with (no DATABASE_URL, REDIS_URL or S3)."""
    return {
        "HUB_DATA_DIR": str(config.data_dir),
        "HUB_BIND": config.bind,
        "HUB_SECURE_COOKIES": "false",
        "HUB_WEB_WORKERS": str(config.web_workers),
    }


def prepare(config: HubConfig) -> tuple[str, str]:
    """Create (once) the demo organisation, clinic and head-office user; their e-mail and password."""
    open_hub(config)
    secret = config.data_dir / "demo-admin-password"
    try:
        if not User.select().where(User.email == DEMO_EMAIL).exists():
            organisation = Organisation.get_or_none(Organisation.name == DEMO_ORGANISATION) or create_organisation(
                DEMO_ORGANISATION, actor="demo"
            )
            clinic = create_clinic(organisation, DEMO_CLINIC, actor="demo")
            password = generate_password()
            create_user(organisation, DEMO_EMAIL, password, "org_admin", [clinic], actor="demo")
            secret.write_text(password)
            secret.chmod(0o600)
    finally:
        database.close()
    return DEMO_EMAIL, secret.read_text().strip()


def enrolment_token(config: HubConfig) -> str:
    """A fresh one-time token for the demo clinic (the demo box enrols with it on first start)."""
    open_hub(config)
    try:
        clinic = Clinic.get(Clinic.name == DEMO_CLINIC)
        token, _ = issue_enrolment_token(clinic, created_by="demo", hours=1)
    finally:
        database.close()
    return token
