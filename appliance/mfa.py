"""Two-step sign-in for box users: set up, check a code or a recovery code, turn off, reset.

The secret is kept sealed with the box's secret key (`key` below) and shown only while it is set
up; recovery codes are kept as argon2 hashes and each works once.
"""

from __future__ import annotations

from core import mfa

from . import audit
from .config import Config
from .db import database
from .models import RecoveryCode, User, utcnow

ISSUER = "DigiFort box"


def required_for(user: User, config: Config) -> bool:
    """True when `user` may not sign in without a second factor (admins, with APPLIANCE_REQUIRE_MFA)."""
    return config.require_mfa and user.role == "admin"


def setup_secret(user: User, key: str) -> tuple[str, str]:
    """The secret being set up for `user` (a new one unless one is waiting) and its QR code."""
    secret = mfa.unseal(user.totp_pending, key) if user.totp_pending else None
    if secret is None:
        secret = mfa.new_secret()
        User.update(totp_pending=mfa.seal(secret, key)).where(User.id == user.id).execute()
    return secret, mfa.qr_data_uri(mfa.provisioning_uri(secret, user.username, ISSUER))


def confirm_setup(user: User, code: str, key: str, actor: str) -> list[str] | None:
    """Turn on the secret being set up when `code` is right for it: the new recovery codes (shown
    once), or None for a wrong code."""
    user = User.get_by_id(user.id)
    secret = mfa.unseal(user.totp_pending, key) if user.totp_pending else None
    step = mfa.matching_step(secret, code, None) if secret else None
    if step is None:
        return None
    with database.atomic():
        enabled = {"totp_secret": user.totp_pending, "totp_pending": None, "totp_last_step": step}
        User.update(**enabled, mfa_enabled_at=utcnow()).where(User.id == user.id).execute()
        codes = _replace_recovery_codes(user)
        audit.record("mfa.enable", actor=actor, obj=user)
    return codes


def check(user: User, code: str, key: str) -> str | None:
    """How `code` proves the second factor ("totp" or "recovery"), or None when it does not.

    A TOTP code is accepted once (its time step is kept); a recovery code is used up."""
    user = User.get_by_id(user.id)
    if not user.has_mfa:
        return None
    if mfa.looks_like_totp(code):
        secret = mfa.unseal(user.totp_secret, key)
        step = mfa.matching_step(secret, code, user.totp_last_step) if secret else None
        if step is None:
            return None
        newer = User.totp_last_step.is_null() | (User.totp_last_step < step)
        claimed = User.update(totp_last_step=step).where((User.id == user.id) & newer).execute()
        return "totp" if claimed else None
    for row in RecoveryCode.select().where((RecoveryCode.user == user) & RecoveryCode.used_at.is_null()):
        if mfa.recovery_code_matches(row.code_hash, code):
            used = (
                RecoveryCode.update(used_at=utcnow())
                .where((RecoveryCode.id == row.id) & RecoveryCode.used_at.is_null())
                .execute()
            )
            if used:
                audit.record("mfa.recovery_code_used", actor=user.username, obj=user, left=recovery_codes_left(user))
                return "recovery"
    return None


def recovery_codes_left(user: User) -> int:
    """How many of the user's recovery codes are still unused."""
    return RecoveryCode.select().where((RecoveryCode.user == user) & RecoveryCode.used_at.is_null()).count()


def new_recovery_codes(user: User, actor: str) -> list[str]:
    """Ten fresh recovery codes in place of the old ones (shown once)."""
    with database.atomic():
        codes = _replace_recovery_codes(user)
        audit.record("mfa.recovery_codes_renewed", actor=actor, obj=user)
    return codes


def turn_off(user: User, actor: str, action: str = "mfa.disable") -> None:
    """Remove the user's second factor and recovery codes (`mfa.reset` when an admin does it)."""
    with database.atomic():
        User.update(totp_secret=None, totp_pending=None, totp_last_step=None, mfa_enabled_at=None).where(
            User.id == user.id
        ).execute()
        RecoveryCode.delete().where(RecoveryCode.user == user).execute()
        audit.record(action, actor=actor, obj=user)


def _replace_recovery_codes(user: User) -> list[str]:
    codes = mfa.new_recovery_codes()
    RecoveryCode.delete().where(RecoveryCode.user == user).execute()
    RecoveryCode.insert_many(
        [{"user": user.id, "code_hash": mfa.hash_recovery_code(code), "created_at": utcnow()} for code in codes]
    ).execute()
    return codes
