"""Times as people say them: "just now", "3 minutes ago", "yesterday" (box and hub pages; the
browser's live refresh says the same with static/dashboard.js)."""

from __future__ import annotations

import datetime as dt


def parse_moment(value: str | dt.datetime | None) -> dt.datetime | None:
    """An ISO time (naive ones are UTC, as the box and hub store them) as an aware datetime."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def ago(value: str | dt.datetime | None, now: dt.datetime | None = None) -> str:
    """How long ago `value` was, in words; "never" for no time."""
    moment = parse_moment(value)
    if moment is None:
        return "never"
    now = now or dt.datetime.now(dt.UTC)
    seconds = (now - moment).total_seconds()
    if seconds < 45:
        return "just now"
    minutes = round(seconds / 60)
    if minutes < 60:
        return "1 minute ago" if minutes == 1 else f"{minutes} minutes ago"
    hours = round(seconds / 3600)
    if hours < 24:
        return "1 hour ago" if hours == 1 else f"{hours} hours ago"
    days = round(seconds / 86400)
    return "yesterday" if days == 1 else f"{days} days ago"
