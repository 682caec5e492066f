"""The secret that signs the box's web sessions once the box is unlocked."""

from __future__ import annotations

from core.web.security import secret_key_for

from .config import Config

# While the box is locked only the unlock form is served; its CSRF token is signed with this
# secret from the never-encrypted keys folder, which protects nothing else.
LOCKED_SECRET_FILE = "unlock-form-secret"  # noqa: S105  (a file name)


def web_secret(config: Config) -> str:
    """APPLIANCE_SECRET_KEY, or the one generated once in the data folder."""
    return secret_key_for(config.secret_key, config.data_dir)


def unlock_form_secret(config: Config) -> str:
    """The secret for the unlock page while locked (never the sessions' secret)."""
    config.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return secret_key_for(None, config.keys_dir, LOCKED_SECRET_FILE)
