"""One password policy for both sides: argon2 hashes (the box verifies hashes the hub makes), and one
rule for what a new password must be: long enough and not easy to guess (zxcvbn, offline)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

MIN_LENGTH = 10
MAX_LENGTH = 200
# zxcvbn's scale: 3 is "safely unguessable" (about 10^10 guesses), what an offline attack on a
# stolen hash database needs to be slowed to a crawl by argon2.
MIN_SCORE = 3
# zxcvbn refuses longer input and its matching grows with length; past this a password is judged
# on its first characters, which are already more than any dictionary holds.
SCORED_LENGTH = 72
hasher = PasswordHasher()


def password_problem(password: str, user_inputs: Iterable[str] = ()) -> str | None:
    """Why `password` may not be chosen (too short, too long, easy to guess), or None.

    `user_inputs` are words an attacker would try first: the user name, the e-mail address and its
    parts, the product's name.
    """
    if len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    words = ["digifort", *_pieces(user_inputs)]
    result = zxcvbn(password[:SCORED_LENGTH], user_inputs=words)
    if result["score"] >= MIN_SCORE:
        return None
    feedback = result["feedback"]
    hint = feedback.get("warning") or " ".join(feedback.get("suggestions") or [])
    return "password is too easy to guess" + (f": {hint.rstrip('.')}" if hint else "") + "; try a few uncommon words"


def _pieces(user_inputs: Iterable[str]) -> list[str]:
    """Each input and its parts: `jane.doe@clinic.example` gives jane.doe, jane, doe, clinic and example too."""
    pieces: list[str] = []
    for value in user_inputs:
        value = (value or "").strip().lower()
        if value:
            pieces.extend([value, value.split("@")[0]])
            pieces.extend(part for part in re.split(r"[^a-z0-9]+", value) if len(part) > 2)
    return pieces


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
