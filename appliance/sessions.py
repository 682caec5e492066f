"""Server-side web sessions: the cookie names a row; ending the row ends the session."""

from __future__ import annotations

import datetime as dt
import secrets

from .models import User, WebSession, utcnow


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


def end_user_sessions(user: User, reason: str) -> int:
    """End every open session of `user` (disable, password reset); return how many."""
    return (
        WebSession.update(ended_at=utcnow(), end_reason=reason)
        .where((WebSession.user == user.id) & WebSession.ended_at.is_null())
        .execute()
    )


def seconds_left(session: WebSession, idle: dt.timedelta, lifetime: dt.timedelta) -> float:
    """Seconds until the session is ended, for idleness or at the end of its lifetime, whichever comes first."""
    ends = min(session.last_seen_at + idle, session.created_at + lifetime)
    return max(0.0, (ends - utcnow()).total_seconds())
