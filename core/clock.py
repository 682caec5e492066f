"""Time as both sides store it: naive UTC."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    """Naive UTC now (stored as such in SQLite and PostgreSQL)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
