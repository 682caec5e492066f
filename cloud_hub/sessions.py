"""Sign-in at the hub: a server-side session row, and a JWT carrying its id in an HttpOnly cookie.

The token alone is never enough: every request also finds its session row, which ends on
logout, when the user is disabled or changes password, after `idle_minutes` without a request
and after `session_hours` in any case.

A sign-in that still owes its second factor gets no token at all: only a short-lived challenge
row (the browser holds a random token whose hash names it) that can do nothing but finish it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import jwt

from core.passwords import verify_password

from . import audit, tenancy
from .db import database
from .models import HubSession, Organisation, SignInChallenge, User, utcnow

AUDIENCE = "digifort-hub"
ALGORITHMS = ["HS256"]
COOKIE = "digifort_hub"
SEEN_EVERY = dt.timedelta(seconds=30)
CHALLENGE_LIFETIME = {"code": dt.timedelta(minutes=5), "setup": dt.timedelta(minutes=15)}
CHALLENGE_ATTEMPTS = 5
_DUMMY_HASH = tenancy.hash_password("not a real password")


@dataclass
class SignedIn:
    user: User
    session: HubSession
    organisation: Organisation


def authenticate(email: str, password: str) -> User | None:
    """The active user of an active organisation with these credentials, or None."""
    user = User.get_or_none(User.email == (email or "").strip().lower())
    matches = verify_password(user.password_hash if user else _DUMMY_HASH, password or "")
    return user if matches and user is not None and user.active else None


def start(
    user: User, secret: str, hours: float, address: str | None, factor: str = "password"
) -> tuple[HubSession, str]:
    """A new session for `user` and the JWT that names it (`factor`: how the sign-in ended)."""
    now = utcnow()
    with database.atomic():
        session = HubSession.create(
            id=secrets.token_hex(16),
            user=user,
            address=address,
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(hours=hours),
        )
        audit.record("login", actor=user.email, organisation=user.organisation_id, address=address, factor=factor)
    claims = {
        "sub": str(user.id),
        "sid": session.id,
        "org": user.organisation_id,
        "aud": AUDIENCE,
        "iat": int(now.replace(tzinfo=dt.UTC).timestamp()),
        "exp": int(session.expires_at.replace(tzinfo=dt.UTC).timestamp()),
    }
    return session, jwt.encode(claims, secret, algorithm=ALGORITHMS[0])


def resume(token: str, secret: str, idle_minutes: float) -> SignedIn | None:
    """Who is signed in, for a valid token naming a live session; None otherwise (the session
    row records why it ended)."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=ALGORITHMS,
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "sub", "sid", "aud"]},
        )
    except jwt.InvalidTokenError:
        return None
    session = HubSession.get_or_none(HubSession.id == claims["sid"])
    if session is None or str(session.user_id) != claims["sub"] or session.ended_at is not None:
        return None
    now, ended = utcnow(), None
    if now >= session.expires_at:
        ended = "expired"
    elif now - session.last_seen_at > dt.timedelta(minutes=idle_minutes):
        ended = "idle"
    user = User.get_by_id(session.user_id)
    if ended is None and not user.active:
        ended = "disabled"
    if ended:
        end(session, ended)
        return None
    if now - session.last_seen_at > SEEN_EVERY:
        HubSession.update(last_seen_at=now).where(HubSession.id == session.id).execute()
    return SignedIn(user, session, Organisation.get_by_id(user.organisation_id))


def end(session: HubSession, reason: str) -> None:
    """End one session (logout, idle, expiry)."""
    HubSession.update(ended_at=utcnow(), end_reason=reason).where(
        (HubSession.id == session.id) & HubSession.ended_at.is_null()
    ).execute()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_challenge(user: User, purpose: str, next_url: str | None, address: str | None) -> str:
    """A pending sign-in for `user` that must pass `purpose` ("code" or "setup"); its token."""
    token = secrets.token_urlsafe(32)
    SignInChallenge.create(
        token_hash=_token_hash(token),
        user=user,
        purpose=purpose,
        next_url=next_url,
        address=address,
        expires_at=utcnow() + CHALLENGE_LIFETIME[purpose],
    )
    return token


def live_challenge(token: str | None, purpose: str) -> SignInChallenge | None:
    """The open, unexpired challenge for `token` with this purpose whose user is still active."""
    if not token:
        return None
    challenge = SignInChallenge.get_or_none(SignInChallenge.token_hash == _token_hash(token))
    if challenge is None or challenge.ended_at is not None or challenge.purpose != purpose:
        return None
    if utcnow() >= challenge.expires_at or challenge.attempts >= CHALLENGE_ATTEMPTS or not challenge.user.active:
        end_challenge(challenge)
        return None
    return challenge


def challenge_failed(challenge: SignInChallenge) -> None:
    """Count a wrong code; the challenge ends after CHALLENGE_ATTEMPTS of them."""
    SignInChallenge.update(attempts=SignInChallenge.attempts + 1).where(SignInChallenge.id == challenge.id).execute()


def end_challenge(challenge: SignInChallenge) -> None:
    """Close a challenge (passed, expired or given up): its token no longer works."""
    SignInChallenge.update(ended_at=utcnow()).where(
        (SignInChallenge.id == challenge.id) & SignInChallenge.ended_at.is_null()
    ).execute()
