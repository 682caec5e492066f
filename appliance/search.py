"""Full-text search over page text (SQLite FTS5): documents ranked by their best page (bm25),
phrases and prefixes, a spelling suggestion when nothing matches, snippets on word boundaries,
and the hits of a query on a document's pages (in the text and on the page image)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from rapidfuzz import process
from rapidfuzz.distance import OSA

from core.highlight import HIT_END, HIT_START, mark_hits, widen_to_words

from .db import database
from .word_boxes import unpack

MAX_TERMS = 12
# Pieces of a word as FTS5's unicode61 tokenizer cuts them (letters and digits; "_" separates).
PIECE = re.compile(r"[^\W_]+")
# A quoted phrase (the closing quote may be missing) or a run of non-space characters.
CHUNK = re.compile(r'"([^"]*)"?|([^\s"]+)')


class SearchError(ValueError):
    """The query has nothing to search for."""


@dataclass(frozen=True)
class Term:
    """One thing every hit must contain: a word, or words next to each other (a phrase); with
    `prefix`, the last word may go on ("haemo*")."""

    words: tuple[str, ...]
    prefix: bool = False

    def fts(self) -> str:
        return '"' + " ".join(self.words) + '"' + ("*" if self.prefix else "")

    def typed(self) -> str:
        """The term as a person would type it."""
        text = " ".join(self.words) + ("*" if self.prefix else "")
        return f'"{text}"' if len(self.words) > 1 else text


def parse_query(query: str) -> list[Term]:
    """The terms of a query: "quoted words" are a phrase, a trailing * makes a prefix, and a
    word with punctuation inside ("blood-pressure", "13.2") is a phrase of its pieces."""
    terms = []
    for quoted, bare in CHUNK.findall(query):
        chunk = quoted if quoted else bare
        words = tuple(PIECE.findall(chunk))
        if words:
            terms.append(Term(words, prefix=chunk.rstrip().endswith("*")))
    if not terms:
        raise SearchError("type at least one word or number to search for")
    return terms[:MAX_TERMS]


def fts_query(terms: Iterable[Term]) -> str:
    """Terms as a safe FTS5 query: every term must appear."""
    return " ".join(term.fts() for term in terms)


def to_fts_query(query: str) -> str:
    """User text as a safe FTS5 query (see parse_query)."""
    return fts_query(parse_query(query))


def typed_query(terms: Iterable[Term]) -> str:
    """Terms as the query a person would type for them."""
    return " ".join(term.typed() for term in terms)


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

# Documents rank by their best page. Pages are ranked on the FTS5 table alone, in rounds of
# PAGE_BATCH (FTS5 sorts every match by bm25 anyway, so a longer LIMIT costs next to nothing),
# until enough documents have been seen; only those pages are looked up. Counting documents and
# finding the matching pages of those shown walk every match through page_search, a small index
# of (id, document_id, number) that stays in the cache where the page rows with their text do
# not: 5,000 pages in a millisecond or two. CROSS JOIN keeps page_fts outermost (FTS5 would run
# the whole query again for each page handed to it) and the unary + keeps SQLite from probing
# the index once per listed document for every page.
PAGE_BATCH = 200
ALL_MATCHES = """
FROM page_fts CROSS JOIN page pg INDEXED BY page_search ON pg.id = page_fts.rowid {joins}
WHERE page_fts MATCH ? AND page_fts.rowid >= ? {filters}
"""
COUNTS = "SELECT count(*), count(DISTINCT pg.document_id)" + ALL_MATCHES
MATCHING = "SELECT pg.document_id, pg.number" + ALL_MATCHES + "AND +pg.document_id IN ({{marks}})"
PLACES = 'SELECT "id", "document_id", "number" FROM "page" INDEXED BY page_search WHERE "id" IN ({marks})'

SHOWN = """
SELECT snippet(page_fts, 0, ?, ?, '…', 16), p.text, p.thumbnail,
       d.doc_type, d.status, d.doc_date, pt.mrn, pt.last_name, pt.first_name
FROM page_fts
JOIN page p ON p.id = page_fts.rowid
JOIN document d ON d.id = p.document_id
LEFT JOIN patient pt ON pt.id = d.patient_id
WHERE page_fts MATCH ? AND page_fts.rowid = ?
"""


@dataclass
class Hit:
    """A document that matches, shown by its best page."""

    document_id: int
    page_id: int
    page_number: int
    pages: list[int]  # the numbers of its matching pages, in order
    score: float
    snippet: str
    doc_type: str
    status: str
    doc_date: dt.date | None
    has_thumbnail: bool
    patient_mrn: str | None
    patient_name: str | None

    def marked(self, start: str = "[", end: str = "]") -> str:
        """The snippet with hits wrapped in `start`/`end`."""
        return mark_hits(self.snippet, start, end)


@dataclass
class Results:
    hits: list[Hit]
    documents: int  # that match in all (within the ranking window)
    pages: int
    windowed: bool  # more than RANK_WINDOW pages matched; hits are the best of the most recent ones
    query: str  # the query searched for: the one typed, or the suggested spelling
    suggested_for: str | None = None  # the query typed, when nothing matched it and `query` is a suggestion

    @property
    def note(self) -> str | None:
        """What to tell the user when the ranking window applied."""
        if not self.windowed:
            return None
        return (
            f"Over {RANK_WINDOW:,} pages match: these are the best of the {RANK_WINDOW:,} most recently "
            "filed. Add a word, a type or dates to search them all."
        )


@dataclass
class Filters:
    doc_type: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    sql: list[str] = field(default_factory=list)
    params: list = field(default_factory=list)

    def __post_init__(self):
        for value, clause in (
            (self.doc_type, "AND d.doc_type = ?"),
            (self.date_from, "AND d.doc_date >= ?"),
            (self.date_to, "AND d.doc_date <= ?"),
        ):
            if value:
                self.sql.append(clause)
                self.params.append(value.isoformat() if isinstance(value, dt.date) else value)


def _sql(template: str, filters: Filters) -> str:
    return template.format(joins=FILTER_JOINS if filters.sql else "", filters=" ".join(filters.sql))


def window_start(match: str, filters: Filters) -> int | None:
    """The oldest page id inside the ranking window, or None when every match fits in it."""
    row = database.execute_sql(_sql(WINDOW_START, filters), (match, *filters.params, RANK_WINDOW - 1)).fetchone()
    return row[0] if row else None


def _marks(values) -> str:
    return ", ".join("?" * len(values))


def best_pages(match: str, since: int, filters: Filters, wanted: int) -> list[tuple[int, int, int, float]]:
    """(document id, page id, page number, rank) of the best page of each of the first `wanted`
    documents, best first."""
    best: dict[int, tuple[int, int, int, float]] = {}
    batch, seen = PAGE_BATCH, 0
    while True:
        ranked = database.execute_sql(_sql(RANKED, filters), (match, since, *filters.params, batch, seen)).fetchall()
        ids = [page_id for page_id, _ in ranked]
        places = {row[0]: row[1:] for row in database.execute_sql(PLACES.format(marks=_marks(ids)), ids)} if ids else {}
        for page_id, rank in ranked:
            document_id, number = places[page_id]
            best.setdefault(document_id, (document_id, page_id, number, rank))
        seen += len(ranked)
        if len(best) >= wanted or len(ranked) < batch:
            return list(best.values())[:wanted]
        batch *= 2


def matching_pages(match: str, since: int, filters: Filters, document_ids: list[int]) -> dict[int, list[int]]:
    """By document, the numbers of its pages that match (within the ranking window)."""
    found: dict[int, list[int]] = {}
    if document_ids:
        sql = _sql(MATCHING, filters).replace("{marks}", _marks(document_ids))
        for document_id, number in database.execute_sql(sql, (match, since, *filters.params, *document_ids)):
            found.setdefault(document_id, []).append(number)
    return {document_id: sorted(numbers) for document_id, numbers in found.items()}


def _hit(row: tuple[int, int, int, float], pages: list[int], match: str) -> Hit | None:
    document_id, page_id, number, rank = row
    shown = database.execute_sql(SHOWN, (HIT_START, HIT_END, match, page_id)).fetchone()
    if shown is None:
        return None
    snippet, text, thumbnail, doc_type, status, doc_date, mrn, last, first = shown
    return Hit(
        document_id=document_id,
        page_id=page_id,
        page_number=number,
        pages=pages,
        score=round(-rank, 4),
        snippet=widen_to_words(snippet, text),
        doc_type=doc_type,
        status=status,
        doc_date=dt.date.fromisoformat(doc_date) if doc_date else None,
        has_thumbnail=bool(thumbnail),
        patient_mrn=mrn,
        patient_name=f"{last}, {first}" if last else None,
    )


def _grouped(terms: list[Term], limit: int, offset: int, filters: Filters) -> Results:
    match = fts_query(terms)
    with database.atomic():
        start = window_start(match, filters)
        since = start or 0
        pages, documents = database.execute_sql(_sql(COUNTS, filters), (match, since, *filters.params)).fetchone()
        shown = best_pages(match, since, filters, offset + limit)[offset:] if pages else []
        numbers = matching_pages(match, since, filters, [row[0] for row in shown])
        hits = [h for h in (_hit(row, numbers.get(row[0], [row[2]]), match) for row in shown) if h is not None]
    return Results(hits, documents, pages, windowed=start is not None, query=typed_query(terms))


def search_documents(
    query: str,
    limit: int = 20,
    offset: int = 0,
    *,
    doc_type: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Results:
    """Documents with every term of `query` on one page, best page first, optionally by type and
    document date. When nothing matches and a word is not in the index, the closest spelling that
    is takes its place (Results.suggested_for says so)."""
    terms = parse_query(query)
    filters = Filters(doc_type, date_from, date_to)
    results = _grouped(terms, limit, offset, filters)
    if results.hits or offset:
        return results
    respelled = respell(terms)
    if respelled == terms:
        return results
    results = _grouped(respelled, limit, offset, filters)
    results.suggested_for = typed_query(terms)
    return results


# Spelling suggestions: a word not in the index is replaced by the index's closest word (OSA
# distance, a transposition counting once), the one on most pages among equally close ones.
# Numbers are never respelled: a mistyped MRN must not turn into another patient's.
MIN_RESPELL = 4


def fold(word: str) -> str:
    """A word as the index keeps it: lower case, without diacritics (unicode61, remove_diacritics 2)."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def index_terms(text: str) -> set[str]:
    """The distinct words of `text` as the index keeps them."""
    return {fold(piece) for piece in PIECE.findall(text)}


def index_page(page_id: int, text: str) -> None:
    """Index a page's text for search, and count its words into the vocabulary suggestions come from."""
    database.execute_sql("INSERT INTO page_fts (rowid, text) VALUES (?, ?)", (page_id, text))
    database.cursor().executemany(
        'INSERT INTO "search_term" ("term", "pages") VALUES (?, 1) '
        'ON CONFLICT ("term") DO UPDATE SET "pages" = "pages" + 1',
        [(term,) for term in sorted(index_terms(text))],
    )


def allowed_distance(word: str) -> int:
    return 1 if len(word) <= 5 else 2


def known(word: str) -> bool:
    return database.execute_sql('SELECT 1 FROM "search_term" WHERE "term" = ?', (word,)).fetchone() is not None


def _closest(word: str, candidates: list[tuple[str, int]]) -> str | None:
    found = process.extract(
        word, [term for term, _ in candidates], scorer=OSA.distance, score_cutoff=allowed_distance(word), limit=None
    )
    if not found:
        return None
    _, _, index = min(found, key=lambda f: (f[1], -candidates[f[2]][1]))
    return candidates[index][0]


def suggestion(word: str) -> str | None:
    """The index's closest word to `word` (not in it), or None when none is close enough; words
    that start with the same letter are tried first, then the rest."""
    spread = allowed_distance(word)
    lengths = (len(word) - spread, len(word) + spread)
    first = database.execute_sql(
        'SELECT "term", "pages" FROM "search_term" WHERE "term" >= ? AND "term" < ? AND length("term") BETWEEN ? AND ?',
        (word[0], chr(ord(word[0]) + 1), *lengths),
    ).fetchall()
    found = _closest(word, first)
    if found is None:
        rest = database.execute_sql(
            'SELECT "term", "pages" FROM "search_term" '
            'WHERE length("term") BETWEEN ? AND ? AND substr("term", 1, 1) <> ?',
            (*lengths, word[0]),
        ).fetchall()
        found = _closest(word, rest)
    return found


def respell(terms: list[Term]) -> list[Term]:
    """The terms with each word that is not in the index replaced by its suggestion (a prefix's
    last word is left alone: it is meant to be incomplete)."""
    respelled = []
    for term in terms:
        words = []
        for n, word in enumerate(term.words):
            folded = fold(word)
            last_of_prefix = term.prefix and n == len(term.words) - 1
            if last_of_prefix or len(folded) < MIN_RESPELL or not folded.isalpha() or known(folded):
                words.append(word)
            else:
                words.append(suggestion(folded) or word)
        respelled.append(replace(term, words=tuple(words)))
    return respelled


# The hits of a query on a document's pages, for the viewer: FTS5's highlight() marks exactly
# what MATCH matched (phrases, prefixes), so the page text and the word boxes agree with search.
HIGHLIGHTED = "SELECT rowid, highlight(page_fts, 0, ?, ?) FROM page_fts WHERE page_fts MATCH ? AND rowid IN ({marks})"


@dataclass
class PageHits:
    marked_text: str  # the page text with its hits between HIT_START and HIT_END
    count: int  # hits in the text
    width: int | None  # of the image the boxes are on; None when the page has no word boxes
    height: int | None
    boxes: list[tuple[int, int, int, int]]  # left, top, width, height of each word hit


def hit_spans(marked: str) -> list[tuple[int, int]]:
    """(start, end) in the unmarked text of every hit marked in `marked`."""
    spans, removed = [], 0
    for found in re.finditer(f"{HIT_START}([^{HIT_END}]*){HIT_END}", marked):
        start = found.start() - removed
        spans.append((start, start + len(found.group(1))))
        removed += 2
    return spans


def page_hits(query: str, pages: list) -> dict[int, PageHits]:
    """By page id, the hits of `query` on those of `pages` (Page rows) that match it."""
    try:
        match = to_fts_query(query)
    except SearchError:
        return {}
    by_id = {page.id: page for page in pages}
    if not by_id:
        return {}
    rows = database.execute_sql(
        HIGHLIGHTED.format(marks=", ".join("?" * len(by_id))), (HIT_START, HIT_END, match, *by_id)
    ).fetchall()
    found = {}
    for page_id, marked in rows:
        page = by_id[page_id]
        spans = hit_spans(marked)
        words = unpack(page.word_boxes, page.text)
        boxes = []
        if words is not None:
            boxes = [
                (box.left, box.top, box.width, box.height)
                for box in words.boxes
                if any(box.start < end and start < box.end for start, end in spans)
            ]
        found[page_id] = PageHits(
            marked_text=marked,
            count=len(spans),
            width=words.width if words else None,
            height=words.height if words else None,
            boxes=boxes,
        )
    return found
