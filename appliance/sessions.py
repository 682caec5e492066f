"""Server-side web sessions: the cookie names a row; ending the row ends the session."""

from __future__ import annotations

import datetime as dt
import secrets

from .models import User, WebSession, utcnow


def start_session(user: User, address: str | None) -> WebSession:
    """A new session for `user` with a fresh random token."""
    return WebSession.create(token=secrets.token_urlsafe(32), user=user, address=address)


def live_session(token: str, idle: dt.timedelta) -> WebSession | None:
    """The session for `token` if it is open, its user active and not idle too long; ends it if idle."""
    session = WebSession.get_or_none(WebSession.token == token)
    if session is None or session.ended_at is not None:
        return None
    if not session.user.active:
        end_session(session, "user disabled")
        return None
    if utcnow() - session.last_seen_at > idle:
        end_session(session, "idle timeout")
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


def seconds_left(session: WebSession, idle: dt.timedelta) -> float:
    """Seconds until the session is ended for idleness."""
    return max(0.0, (session.last_seen_at + idle - utcnow()).total_seconds())
