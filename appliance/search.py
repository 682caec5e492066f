"""Full-text search over page text (SQLite FTS5, bm25 ranking, highlighted snippets)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .db import database

HIT_START, HIT_END = "\x02", "\x03"


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
        return self.snippet.replace(HIT_START, start).replace(HIT_END, end)


SQL = """
SELECT p.id, p.document_id, p.number, bm25(page_fts) AS score,
       snippet(page_fts, 0, ?, ?, '…', 16), d.doc_type, d.status, pt.mrn, pt.last_name, pt.first_name
FROM page_fts
JOIN page p ON p.id = page_fts.rowid
JOIN document d ON d.id = p.document_id
LEFT JOIN patient pt ON pt.id = d.patient_id
WHERE page_fts MATCH ? {filters}
ORDER BY score
LIMIT ? OFFSET ?
"""


def search_pages(query: str, limit: int = 20, offset: int = 0, *, doc_type: str | None = None,
                 date_from: dt.date | None = None, date_to: dt.date | None = None) -> list[Hit]:
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
    sql = SQL.format(filters=" ".join(filters))
    rows = database.execute_sql(sql, (HIT_START, HIT_END, to_fts_query(query), *params, limit, offset)).fetchall()
    return [
        Hit(page_id=r[0], document_id=r[1], page_number=r[2], score=round(-r[3], 4), snippet=r[4], doc_type=r[5],
            status=r[6], patient_mrn=r[7], patient_name=f"{r[8]}, {r[9]}" if r[8] else None)
        for r in rows
    ]
