"""Cross-clinic full-text search: PostgreSQL full-text search over page text (GIN index), ranked
with ts_rank and highlighted with ts_headline; a plain word match on the embedded SQLite hub."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.highlight import HIT_END, HIT_START

from .db import database, is_postgres

HEADLINE_OPTIONS = f"StartSel={HIT_START}, StopSel={HIT_END}, MaxWords=24, MinWords=10, MaxFragments=2"


class SearchError(ValueError):
    """Nothing to search for."""


@dataclass
class DocumentHit:
    page_id: int
    document_id: int
    page_number: int
    clinic: str
    doc_type: str
    doc_date: object
    patient_mrn: str | None
    patient_name: str | None
    snippet: str


def _words(query: str) -> list[str]:
    words = re.findall(r"\w+", query)
    if not words:
        raise SearchError("type at least one word or number to search for")
    return words[:12]


# Ranked on the pages alone (the GIN index finds them), then joined and highlighted for the
# rows shown only: ts_headline re-reads each page's text, so it must not run on every match.
POSTGRES_SQL = """
WITH q AS (SELECT to_tsquery('simple', %s) AS query),
ranked AS (
    SELECT p.id, ts_rank(p.search, q.query) AS rank
    FROM page p JOIN document d ON d.id = p.document_id, q
    WHERE p.search @@ q.query AND p.organisation_id = %s AND d.clinic_id = ANY(%s) AND d.status <> 'trashed'
    ORDER BY rank DESC, p.id DESC
    LIMIT %s OFFSET %s
)
SELECT p.id, p.document_id, p.number, c.name, d.doc_type, d.doc_date, pt.mrn, pt.last_name, pt.first_name,
       ts_headline('simple', p.text, q.query, %s)
FROM ranked r JOIN page p ON p.id = r.id JOIN document d ON d.id = p.document_id JOIN clinic c ON c.id = d.clinic_id
LEFT JOIN patient pt ON pt.id = d.patient_id, q
ORDER BY r.rank DESC, p.id DESC
"""

SQLITE_SQL = """
SELECT p.id, p.document_id, p.number, c.name, d.doc_type, d.doc_date, pt.mrn, pt.last_name, pt.first_name, p.text
FROM page p JOIN document d ON d.id = p.document_id JOIN clinic c ON c.id = d.clinic_id
LEFT JOIN patient pt ON pt.id = d.patient_id
WHERE p.organisation_id = ? AND d.clinic_id IN ({clinics}) AND d.status <> 'trashed' {words}
ORDER BY p.id DESC LIMIT ? OFFSET ?
"""


def _plain_snippet(text: str, words: list[str]) -> str:
    pattern = re.compile("|".join(re.escape(w) for w in words), re.I)
    match = pattern.search(text)
    start = max(0, match.start() - 80) if match else 0
    excerpt = text[start : start + 200]
    return pattern.sub(lambda m: f"{HIT_START}{m.group(0)}{HIT_END}", excerpt)


def search_documents(
    organisation_id: int, clinic_ids: list[int], query: str, limit: int = 20, offset: int = 0
) -> list[DocumentHit]:
    """Pages of the organisation's visible clinics containing every word of `query`, best first."""
    words = _words(query)
    if not clinic_ids:
        return []
    if is_postgres():
        tsquery = " & ".join(f"'{w.lower()}'" for w in words)
        rows = database.execute_sql(
            POSTGRES_SQL, (tsquery, organisation_id, clinic_ids, limit, offset, HEADLINE_OPTIONS)
        ).fetchall()
    else:
        sql = SQLITE_SQL.format(
            clinics=", ".join("?" * len(clinic_ids)), words=" ".join("AND p.text LIKE ?" for _ in words)
        )
        rows = [
            (*row[:9], _plain_snippet(row[9], words))
            for row in database.execute_sql(
                sql, (organisation_id, *clinic_ids, *(f"%{w}%" for w in words), limit, offset)
            ).fetchall()
        ]
    return [
        DocumentHit(
            page_id=r[0],
            document_id=r[1],
            page_number=r[2],
            clinic=r[3],
            doc_type=r[4],
            doc_date=r[5],
            patient_mrn=r[6],
            patient_name=f"{r[7]}, {r[8]}" if r[7] else None,
            snippet=r[9],
        )
        for r in rows
    ]
