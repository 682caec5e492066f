"""Server-side web sessions: the cookie names a row; ending the row ends the session.

A sign-in that still owes its second factor is not a session: it is a short-lived challenge row
(the browser's cookie holds a random token whose hash names it) that can only finish the sign-in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from .models import SignInChallenge, User, WebSession, utcnow

CHALLENGE_LIFETIME = {"code": dt.timedelta(minutes=5), "setup": dt.timedelta(minutes=15)}
CHALLENGE_ATTEMPTS = 5


def start_session(user: User, address: str | None) -> WebSession:
    """A new session for `user` with a fresh random token."""
    return WebSession.create(token=secrets.token_urlsafe(32), user=user, address=address)


def live_session(token: str, idle: dt.timedelta, lifetime: dt.timedelta) -> WebSession | None:
    """The session for `token` if it is open, its user active, not idle too long and younger than
    `lifetime`; ends it otherwise."""
    session = WebSession.get_or_none(WebSession.token == token)
    if session is None or session.ended_at is not None:
        return None
    if not session.user.active:
        end_session(session, "user disabled")
        return None
    if utcnow() - session.last_seen_at > idle:
        end_session(session, "idle timeout")
        return None
    # However busy: a session left open on a shared screen must not outlive a working day.
    if utcnow() - session.created_at > lifetime:
        end_session(session, "lifetime over")
        return None
    return session


def touch(session: WebSession):
    """Record activity, restarting the idle clock."""
    WebSession.update(last_seen_at=utcnow()).where(WebSession.id == session.id).execute()


def end_session(session: WebSession, reason: str):
    WebSession.update(ended_at=utcnow(), end_reason=reason).where(
        (WebSession.id == session.id) & WebSession.ended_at.is_null()
    ).execute()


def end_user_sessions(user: User, reason: str, keep_session_id: int | None = None) -> int:
    """End every open session of `user` (disable, password reset) but `keep_session_id`; how many."""
    query = WebSession.update(ended_at=utcnow(), end_reason=reason).where(
        (WebSession.user == user.id) & WebSession.ended_at.is_null()
    )
    if keep_session_id is not None:
        query = query.where(WebSession.id != keep_session_id)
    return query.execute()


def seconds_left(session: WebSession, idle: dt.timedelta, lifetime: dt.timedelta) -> float:
    """Seconds until the session is ended, for idleness or at the end of its lifetime, whichever comes first."""
    ends = min(session.last_seen_at + idle, session.created_at + lifetime)
    return max(0.0, (ends - utcnow()).total_seconds())


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
