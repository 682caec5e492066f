"""Dates as clinics write them: ISO, d/m/Y or m/d/Y, "14 Mar 1975", "March 14, 1975".

A numeric date whose day and month could be swapped is read by the configured order
(APPLIANCE_DATE_ORDER on the box, HUB_DATE_ORDER or the clinic's own at the hub) and the
reading is reported, never guessed silently.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

DATE_ORDERS = ("DMY", "MDY")
MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<mon>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_ORD = r"(?:st|nd|rd|th)?"

PATTERNS = [
    ("iso", re.compile(r"\b(?P<y>(?:19|20)\d{2})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})\b")),
    (
        "dmy_text",
        re.compile(r"\b(?P<d>\d{1,2})" + _ORD + r"[\s\-/.]*" + _MONTH + r"[\s\-/.,]*(?P<y>(?:19|20)\d{2})\b", re.I),
    ),
    ("mdy_text", re.compile(r"\b" + _MONTH + r"\s*(?P<d>\d{1,2})" + _ORD + r",?\s*(?P<y>(?:19|20)\d{2})\b", re.I)),
    # OCR turns a dot into a comma on a poor copy (01,12.1955): a comma separates too.
    ("numeric", re.compile(r"\b(?P<a>\d{1,2})[/.\-,](?P<b>\d{1,2})[/.\-,](?P<y>(?:19|20)\d{2}|\d{2})\b")),
]


@dataclass(frozen=True)
class FoundDate:
    value: dt.date
    start: int
    end: int
    source: str
    note: str | None = None


def _year(raw: str) -> int:
    year = int(raw)
    if year < 100:
        pivot = dt.date.today().year % 100
        year += 2000 if year <= pivot else 1900
    return year


def _make(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _numeric(match, order: str) -> tuple[dt.date | None, str | None]:
    a, b, y = int(match["a"]), int(match["b"]), _year(match["y"])
    if a > 12 and b <= 12:
        return _make(y, b, a), None
    if b > 12 and a <= 12:
        return _make(y, a, b), None
    if a == b:
        return _make(y, a, b), None
    day, month = (a, b) if order == "DMY" else (b, a)
    value = _make(y, month, day)
    note = None
    if value is not None:
        note = f"{match.group(0)} could be day/month or month/day; read as {value.isoformat()} ({order} configured)"
    return value, note


def find_dates(text: str, order: str) -> list[FoundDate]:
    """Every date in `text`, in reading order, each with how it was read."""
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []
    for source, pattern in PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            note = None
            if source == "numeric":
                value, note = _numeric(match, order)
            elif source == "iso":
                value = _make(int(match["y"]), int(match["m"]), int(match["d"]))
            else:
                value = _make(int(match["y"]), MONTHS[match["mon"].lower()], int(match["d"]))
            if value is None:
                continue
            taken.append((match.start(), match.end()))
            found.append(FoundDate(value, match.start(), match.end(), source, note))
    return sorted(found, key=lambda f: f.start)


def parse_date(text: str, order: str) -> FoundDate | None:
    """The first date in `text`, if any."""
    dates = find_dates(text, order)
    return dates[0] if dates else None
