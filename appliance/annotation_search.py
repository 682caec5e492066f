"""Search over staff's tags and notes (`annotation_fts`): a tag or a note word finds the document.

Kept apart from page search (`appliance.search`): the search page shows these documents beside
the page hits, under the same words and filters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from core.highlight import HIT_END, HIT_START

from .db import database
from .search import to_fts_query

MATCHED = """
SELECT d.id, d.doc_type, d.status, pt.mrn, pt.last_name, pt.first_name,
       highlight(annotation_fts, 0, ?, ?), snippet(annotation_fts, 1, ?, ?, '…', 16)
FROM annotation_fts
JOIN document d ON d.id = annotation_fts.rowid
LEFT JOIN patient pt ON pt.id = d.patient_id
WHERE annotation_fts MATCH ? AND d.status <> 'trashed' {filters}
ORDER BY annotation_fts.rank
LIMIT ?
"""


@dataclass
class AnnotationHit:
    document_id: int
    doc_type: str
    status: str
    patient_mrn: str | None
    patient_name: str | None
    tags: str  # the document's tags, comma-separated, with the matched words marked
    snippet: str  # from the note, matched words marked ('' when only tags matched)


def search_annotations(
    query: str,
    limit: int = 20,
    *,
    doc_type: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> list[AnnotationHit]:
    """Documents whose tags and note hold every word of `query`, best first (SearchError when
    there is nothing to search for); the same filters as page search."""
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
    sql = MATCHED.format(filters=" ".join(filters))
    marks = (HIT_START, HIT_END, HIT_START, HIT_END)
    rows = database.execute_sql(sql, (*marks, to_fts_query(query), *params, limit)).fetchall()
    return [
        AnnotationHit(
            document_id=row[0],
            doc_type=row[1],
            status=row[2],
            patient_mrn=row[3],
            patient_name=f"{row[4]}, {row[5]}" if row[4] else None,
            tags=row[6],
            snippet=row[7] if HIT_START in (row[7] or "") else "",
        )
        for row in rows
    ]
