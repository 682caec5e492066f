"""Full-text search over page text (SQLite FTS5, bm25 ranking, highlighted snippets)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from core.highlight import HIT_END, HIT_START, mark_hits

from .db import database


class SearchError(ValueError):
    """The query has nothing to search for."""


def to_fts_query(query: str) -> str:
    """User text as a safe FTS5 query: every word must appear; a trailing * means prefix."""
    terms = []
    for word, star in re.findall(r"(\w+)(\*?)", query):
        terms.append(f'"{word}"' + ("*" if star else ""))
    if not terms:
        raise SearchError("type at least one word or number to search for")
    return " ".join(terms)


@dataclass
class Hit:
    page_id: int
    document_id: int
    page_number: int
    score: float
    snippet: str
    doc_type: str
    status: str
    patient_mrn: str | None
    patient_name: str | None

    def marked(self, start: str = "[", end: str = "]") -> str:
        """The snippet with hits wrapped in `start`/`end`."""
        return mark_hits(self.snippet, start, end)


# bm25 has to be computed for every page it ranks, so a word found on nearly every page (a
# "patient" on 100,000 pages) would cost a second. Ranking is therefore done over at most
# RANK_WINDOW matching pages, the most recently filed; below that (names, MRNs, most phrases)
# it is exact, and above it the caller is told so the UI can ask for another word.
RANK_WINDOW = 5000

WINDOW_START = """
SELECT page_fts.rowid
FROM page_fts {joins}
WHERE page_fts MATCH ? {filters}
ORDER BY page_fts.rowid DESC
LIMIT 1 OFFSET ?
"""

RANKED = """
SELECT page_fts.rowid, page_fts.rank
FROM page_fts {joins}
WHERE page_fts MATCH ? AND page_fts.rowid >= ? {filters}
ORDER BY page_fts.rank
LIMIT ? OFFSET ?
"""
FILTER_JOINS = "JOIN page p ON p.id = page_fts.rowid JOIN document d ON d.id = p.document_id"

SHOWN = """
SELECT p.id, p.document_id, p.number, snippet(page_fts, 0, ?, ?, '…', 16),
       d.doc_type, d.status, pt.mrn, pt.last_name, pt.first_name
FROM page_fts
JOIN page p ON p.id = page_fts.rowid
JOIN document d ON d.id = p.document_id
LEFT JOIN patient pt ON pt.id = d.patient_id
WHERE page_fts MATCH ? AND page_fts.rowid = ?
"""


@dataclass
class Results:
    hits: list[Hit]
    windowed: bool  # more than RANK_WINDOW pages matched; hits are the best of the most recent ones

    @property
    def note(self) -> str | None:
        """What to tell the user when the ranking window applied."""
        if not self.windowed:
            return None
        return (
            f"Over {RANK_WINDOW:,} pages match: these are the best of the {RANK_WINDOW:,} most recently "
            "filed. Add a word, a type or dates to search them all."
        )


def window_start(match: str, filters: list[str], params: list) -> int | None:
    """The oldest page id inside the ranking window, or None when every match fits in it."""
    sql = WINDOW_START.format(joins=FILTER_JOINS if filters else "", filters=" ".join(filters))
    row = database.execute_sql(sql, (match, *params, RANK_WINDOW - 1)).fetchone()
    return row[0] if row else None


def ranked_pages(
    match: str, since: int, limit: int, offset: int, filters: list[str], params: list
) -> list[tuple[int, float]]:
    """(page id, rank) of the best matches from page id `since` on; rank is bm25, lower is better."""
    sql = RANKED.format(joins=FILTER_JOINS if filters else "", filters=" ".join(filters))
    return database.execute_sql(sql, (match, since, *params, limit, offset)).fetchall()


def search_pages(
    query: str,
    limit: int = 20,
    offset: int = 0,
    *,
    doc_type: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Results:
    """Pages matching every word of `query`, best first, optionally by type and document date."""
    filters, params = [], []
    if doc_type:
        filters.append("AND d.doc_type = ?")
        params.append(doc_type)
    if date_from:
        filters.append("AND d.doc_date >= ?")
        params.append(date_from.isoformat())
    if date_to:
        filters.append("AND d.doc_date <= ?")
        params.append(date_to.isoformat())
    match = to_fts_query(query)
    hits = []
    with database.atomic():
        since = window_start(match, filters, params)
        for page_id, rank in ranked_pages(match, since or 0, limit, offset, filters, params):
            row = database.execute_sql(SHOWN, (HIT_START, HIT_END, match, page_id)).fetchone()
            if row is None:
                continue
            hits.append(
                Hit(
                    page_id=row[0],
                    document_id=row[1],
                    page_number=row[2],
                    score=round(-rank, 4),
                    snippet=row[3],
                    doc_type=row[4],
                    status=row[5],
                    patient_mrn=row[6],
                    patient_name=f"{row[7]}, {row[8]}" if row[7] else None,
                )
            )
    return Results(hits=hits, windowed=since is not None)
