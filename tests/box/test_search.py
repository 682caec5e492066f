"""Search: the query language, grouping by document, the spelling fallback and the hits a viewer marks."""

import pytest

from appliance import word_boxes
from appliance.db import database
from appliance.migrations import FILL_SEARCH_TERMS
from appliance.models import Page
from appliance.search import (
    SearchError,
    Term,
    hit_spans,
    page_hits,
    parse_query,
    search_documents,
    to_fts_query,
)
from core.highlight import HIT_END, HIT_START, widen_to_words
from tests.factories import make_document


@pytest.mark.parametrize(
    ("typed", "fts"),
    [
        ("haemoglobin smith", '"haemoglobin" "smith"'),
        ('"blood pressure"', '"blood pressure"'),
        ('"blood pressure" high', '"blood pressure" "high"'),
        ("haemo*", '"haemo"*'),
        ('"blood press*"', '"blood press"*'),
        ('"unclosed phrase', '"unclosed phrase"'),
        ("blood-pressure 13.2", '"blood pressure" "13 2"'),
        ('Robert"); DROP TABLE page; --', '"Robert" "DROP TABLE page"'),
        ("NEAR(a b) OR c*", '"NEAR a" "b" "OR" "c"*'),
    ],
)
def test_queries_become_safe_fts5_queries(typed, fts):
    assert to_fts_query(typed) == fts


def test_a_query_with_nothing_to_search_for_is_refused():
    with pytest.raises(SearchError):
        parse_query(' "" *** -- ')


def test_terms_read_back_as_typed():
    assert [t.typed() for t in parse_query('"blood pressure" haemo* smith')] == ['"blood pressure"', "haemo*", "smith"]
    assert Term(("a", "b"), prefix=True).fts() == '"a b"*'


def test_a_phrase_matches_only_the_words_side_by_side(box):
    apart = make_document(box, texts=("blood was taken; pressure was normal",))
    together = make_document(box, texts=("blood pressure 120/80",))
    assert {h.document_id for h in search_documents("blood pressure").hits} == {apart.id, together.id}
    assert [h.document_id for h in search_documents('"blood pressure"').hits] == [together.id]


def test_a_prefix_matches_every_word_that_starts_so(box):
    one = make_document(box, texts=("haemoglobin 13.2",))
    two = make_document(box, texts=("haematology referral",))
    make_document(box, texts=("chemistry panel",))
    assert {h.document_id for h in search_documents("haem*").hits} == {one.id, two.id}
    assert search_documents("haem").hits == []


def test_results_are_documents_shown_by_their_best_page_with_the_matching_pages(box):
    many = make_document(
        box, texts=("cover sheet", "potassium once", "potassium potassium potassium high", "potassium")
    )
    single = make_document(box, texts=("potassium in a letter",))
    results = search_documents("potassium")
    assert [h.document_id for h in results.hits] == [many.id, single.id]
    best = results.hits[0]
    assert best.page_number == 3 and best.pages == [2, 3, 4]
    assert results.documents == 2 and results.pages == 4
    assert "<" not in best.snippet and HIT_START + "potassium" + HIT_END in best.snippet


@pytest.mark.parametrize("batch", [200, 3])
def test_paging_goes_by_documents(box, monkeypatch, batch):
    monkeypatch.setattr("appliance.search.PAGE_BATCH", batch)  # pages are ranked in rounds of this many
    for n in range(5):
        make_document(box, texts=(f"zinc result {n}", f"zinc again {n}"))
    first = search_documents("zinc", limit=3)
    second = search_documents("zinc", limit=3, offset=3)
    assert len(first.hits) == 3 and len(second.hits) == 2
    assert not {h.document_id for h in first.hits} & {h.document_id for h in second.hits}
    assert first.documents == 5 and first.pages == 10


def test_a_misspelt_word_is_searched_as_the_closest_indexed_word(box):
    known = make_document(box, texts=("haemoglobin normal, ferritin low",))
    make_document(box, texts=("haemoglobin haemoglobin",))
    results = search_documents("ferittin")
    assert results.suggested_for == "ferittin" and results.query == "ferritin"
    assert [h.document_id for h in results.hits] == [known.id]
    assert search_documents("fxrritin").query == "ferritin"  # one substitution
    assert search_documents("erritin").query == "ferritin"  # the first letter missing


def test_a_found_word_a_number_or_a_prefix_is_never_respelled(box):
    make_document(box, texts=("MRN 00123456 ferritin",))
    assert search_documents("00123457").hits == [] and search_documents("00123457").suggested_for is None
    assert search_documents("ferrit*").suggested_for is None
    assert search_documents("ferritin").suggested_for is None
    assert search_documents("zzzzzzzzzz").hits == []


def test_a_respelled_phrase_keeps_its_quotes(box):
    make_document(box, texts=("chest pain on exertion",))
    results = search_documents('"chest pian"')
    assert results.query == '"chest pain"' and len(results.hits) == 1


def test_the_vocabulary_is_filled_from_an_existing_index(box):
    make_document(box, texts=("Crème brûlée", "crème again"))
    database.execute_sql('DELETE FROM "search_term"')
    for step in FILL_SEARCH_TERMS:
        database.execute_sql(step)
    terms = dict(database.execute_sql('SELECT "term", "pages" FROM "search_term"').fetchall())
    assert terms == {"creme": 2, "brulee": 1, "again": 1}


def test_index_words_are_counted_as_the_index_folds_them(box):
    make_document(box, texts=("Crème brûlée", "crème again"))
    terms = dict(database.execute_sql('SELECT "term", "pages" FROM "search_term"').fetchall())
    assert terms == {"creme": 2, "brulee": 1, "again": 1}


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("…pressure 140/90…", "…Blood-pressure 140/90…"),
        ("Brien \x02seen\x03", "…O'Brien \x02seen\x03…"),
        ("nowhere in it", "nowhere in it"),
    ],
)
def test_snippets_grow_to_whole_words(snippet, expected):
    text = "Patient: Blood-pressure 140/90 mmHg, Mr O'Brien seen today"
    assert widen_to_words(snippet, text) == expected


def test_hit_spans_are_offsets_in_the_plain_text():
    assert hit_spans(f"a {HIT_START}bc{HIT_END} d {HIT_START}e{HIT_END}") == [(2, 4), (7, 8)]


def test_page_hits_mark_the_text_and_the_boxes_of_the_matching_words(box):
    document = make_document(box, texts=("Cover page", "Blood pressure high; blood sugar normal"))
    second = Page.get((Page.document == document.id) & (Page.number == 2))
    words = [(0, 0, 90, 10 + 100 * n, 50, 80, 20) for n in range(len(second.text.split()))]
    Page.update(word_boxes=word_boxes.pack(words, (1000, 1400))).where(Page.id == second.id).execute()
    pages = list(Page.select().where(Page.document == document.id).order_by(Page.number))
    found = page_hits('"blood pressure"', pages)
    assert list(found) == [second.id]
    hits = found[second.id]
    assert hits.marked_text.startswith(f"{HIT_START}Blood pressure{HIT_END} high")
    assert hits.count == 1 and (hits.width, hits.height) == (1000, 1400)
    assert hits.boxes == [(10, 50, 80, 20), (110, 50, 80, 20)]  # not the "blood" of "blood sugar"
    assert page_hits("blood", pages)[second.id].boxes == [(10, 50, 80, 20), (310, 50, 80, 20)]


def test_word_boxes_are_kept_only_when_they_pair_with_the_text():
    blob = word_boxes.pack([(0, 3, 90, 1, 2, 3, 4), (4, 7, 90, 5, 6, 7, 8)], (100, 200))
    unpacked = word_boxes.unpack(blob, "one two")
    assert (unpacked.width, unpacked.height) == (100, 200)
    assert [(b.start, b.end, b.left, b.top) for b in unpacked.boxes] == [(0, 3, 1, 2), (4, 7, 5, 6)]
    assert word_boxes.unpack(blob, "one two three") is None
    assert word_boxes.image_size(blob) == (100, 200)
    assert word_boxes.pack([(0, 3, 90, 70_000, 2, 3, 4)], (80_000, 200)) is None
    assert word_boxes.pack([], (100, 200)) is None
