"""Reading an audit log, box and hub alike: the filters an admin types, and an event's details as
(what, value) pairs in words, not JSON."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Filters:
    """User, any part of an action's name, a patient's MRN, and dates (inclusive)."""

    actor: str = ""
    action: str = ""
    patient_mrn: str = ""
    start: dt.date | None = None
    end: dt.date | None = None


def detail_lines(detail: dict | None) -> list[tuple[str, str]]:
    """The event's details as (what, value) pairs in plain words: `duplicate_of` → "duplicate of"."""
    if not detail:
        return []
    lines = []
    for key, value in detail.items():
        if isinstance(value, dict):
            shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in value.items()) or "none"
        elif isinstance(value, list):
            shown = ", ".join(map(str, value)) or "none"
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        else:
            shown = str(value)
        lines.append((key.replace("_", " "), shown))
    return lines
