"""Two-step sign-in, the same on box and hub: TOTP codes (RFC 6238, 6 digits, 30 s), the enrolment
QR code (a PNG data URI made here, so no page loads anything from elsewhere), ten single-use
recovery codes kept as argon2 hashes, and the TOTP secret sealed at rest with the app's key.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import passwords

PERIOD = 30
DIGITS = 6
# A code from the step before or after the current one still counts: phones' clocks drift.
DRIFT_STEPS = 1
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 10


def new_secret() -> str:
    """A new random TOTP secret (base32, 160 bits)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(name=account, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """`uri` as a QR code in a PNG data URI (the CSP allows img-src data:)."""
    return segno.make(uri, error="m").png_data_uri(scale=5, border=4)


def current_step(now: float | None = None) -> int:
    """The TOTP time step of `now` (default: the clock)."""
    return int((time.time() if now is None else now) // PERIOD)


def matching_step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The time step `code` belongs to when it is right for `secret` and newer than `last_step`,
    else None. Keeping the step that was used refuses the same code a second time (replay)."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    step = current_step(now)
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if (last_step is None or candidate > last_step) and hmac.compare_digest(totp.at(candidate * PERIOD), code):
            return candidate
    return None


def looks_like_totp(code: str) -> bool:
    """True for six digits (a code from the app); anything else is read as a recovery code."""
    code = "".join(code.split())
    return len(code) == DIGITS and code.isdigit()


def new_recovery_codes() -> list[str]:
    """Ten random recovery codes, shown once, as `abcde-fghjk`."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalise_recovery_code(code: str) -> str:
    """A recovery code as typed (any case, spaces or dashes) reduced to its characters."""
    return "".join(ch for ch in code.lower() if ch.isalnum())


def hash_recovery_code(code: str) -> str:
    """The argon2 hash stored for a recovery code."""
    return passwords.hash_password(normalise_recovery_code(code))


def recovery_code_matches(stored_hash: str, code: str) -> bool:
    """True when `code` is the recovery code behind `stored_hash`."""
    normalised = normalise_recovery_code(code)
    return len(normalised) == RECOVERY_LENGTH and passwords.verify_password(stored_hash, normalised)


def _fernet(key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"digifort totp secret").derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(secret: str, key: str) -> str:
    """`secret` encrypted with a key derived from the app's secret key (a database copy alone
    does not give away anyone's second factor)."""
    return _fernet(key).encrypt(secret.encode()).decode()


def unseal(sealed: str, key: str) -> str | None:
    """The secret sealed in `sealed`, or None when the app's key has changed since."""
    try:
        return _fernet(key).decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return None
