"""One argon2 policy for every password on both sides: the box verifies hashes the hub makes."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash stored for `password`."""
    return hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when `password` matches `stored_hash` (False for a malformed hash too)."""
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def waste_time(password: str) -> None:
    """Spend what a verification costs, so an unknown account answers as slowly as a known one."""
    hasher.hash(password)


def generate_password() -> str:
    """A random password that is easy to type once."""
    return secrets.token_urlsafe(12)
