"""The search page and the viewer it opens, as staff use them (Flask test client)."""

import re

from appliance import word_boxes
from appliance.models import AuditEvent, Page, Patient
from tests.factories import make_document


def test_results_are_grouped_by_document_with_a_count_a_thumbnail_and_the_best_page(box, staff_client):
    smith = Patient.create(mrn="00123456", last_name="Smith", first_name="John", dob="1975-03-14")
    document = make_document(
        box, patient=smith, texts=("Cover page", "ferritin low", "ferritin ferritin ferritin", "ferritin")
    )
    Page.update(thumbnail="thumbs/x.jpg").where(Page.document == document.id).execute()
    make_document(box, texts=("ferritin in a letter",))
    html = staff_client.get("/search?q=ferritin").get_data(as_text=True)
    assert html.count('class="hit"') == 2
    assert "2 documents · 4 matching pages" in html
    best = Page.get((Page.document == document.id) & (Page.number == 3))
    assert f'/documents/{document.id}?page=3&amp;q=ferritin#page-3"' in html
    assert f'src="/documents/{document.id}/pages/{best.id}/thumbnail"' in html
    assert "Best match on page 3 · 3 matching pages (2, 3, 4)" in html
    assert "Smith, John" in html


def test_a_quoted_phrase_and_a_prefix_narrow_the_results(box, staff_client):
    make_document(box, texts=("blood taken, pressure normal",))
    make_document(box, texts=("blood pressure 120/80",))
    assert "2 documents" in staff_client.get("/search?q=blood+pressure").get_data(as_text=True)
    phrase = staff_client.get('/search?q="blood pressure"').get_data(as_text=True)
    assert "1 document · 1 matching page" in phrase and "<mark>blood pressure</mark>" in phrase
    assert "1 document" in staff_client.get("/search?q=norm*").get_data(as_text=True)


def test_a_typo_shows_the_results_for_the_closest_word_and_says_so(box, staff_client):
    make_document(box, texts=("haemoglobin normal",))
    html = staff_client.get("/search?q=haemoglobn").get_data(as_text=True)
    assert "Nothing matches “haemoglobn”" in html and "Showing results for <strong>“haemoglobin”</strong>" in html
    assert "<mark>haemoglobin</mark>" in html and "q=haemoglobin" in html
    nothing = staff_client.get("/search?q=qqqqqqq").get_data(as_text=True)
    assert "No pages contain all of “qqqqqqq”" in nothing and 'class="hit"' not in nothing
    detail = AuditEvent.select().where(AuditEvent.action == "search").order_by(AuditEvent.id.desc()).first().detail
    assert "haemoglob" not in str(detail) and "qqq" not in str(detail)


def test_snippets_start_and_end_on_whole_words(box, staff_client):
    filler = " ".join(f"word{n}" for n in range(30))
    make_document(box, texts=(f"{filler} blood-pressure measured twice: potassium normal {filler} end-of-letter",))
    snippet = re.search(
        r'<span class="snippet">(.*?)</span>', staff_client.get("/search?q=potassium").get_data(as_text=True)
    )
    words = snippet.group(1).strip("…").split()
    assert all(re.fullmatch(r"(<mark>)?[\w:-]+(</mark>)?", word) for word in words), words


def test_the_viewer_opens_at_the_page_and_marks_the_words_in_the_text_and_on_the_image(box, staff_client):
    document = make_document(box, texts=("Cover page", "Serum ferritin low; repeat ferritin in June"))
    second = Page.get((Page.document == document.id) & (Page.number == 2))
    words = [(0, 0, 90, 100 * n, 200, 90, 30) for n in range(len(second.text.split()))]
    Page.update(word_boxes=word_boxes.pack(words, (1200, 1700))).where(Page.id == second.id).execute()
    html = staff_client.get(f"/documents/{document.id}?page=2&q=ferritin").get_data(as_text=True)
    figure = re.search(r'<figure id="page-2" class="focus has-hits">(.*?)</figure>', html, re.S).group(1)
    assert 'viewBox="0 0 1200 1700"' in figure
    assert re.findall(r'<rect x="(\d+)" y="(\d+)"', figure) == [("97", "197"), ("397", "197")]
    assert "2 hits for “ferritin”" in figure
    assert '<details class="ocr" open>' in figure and "Serum <mark>ferritin</mark> low" in figure
    assert 'width="1200" height="1700"' in figure and 'loading="eager"' in figure
    first = re.search(r'<figure id="page-1" class="">(.*?)</figure>', html, re.S).group(1)
    assert "<rect" not in first and "<mark>" not in first
    plain = staff_client.get(f"/documents/{document.id}").get_data(as_text=True)
    assert "<mark>" not in plain and "page-hits" not in plain


def test_the_viewer_marks_the_text_of_a_page_without_word_boxes(box, staff_client):
    document = make_document(box, texts=("Letter about <b>chest pain</b>",))
    html = staff_client.get(f'/documents/{document.id}?page=1&q="chest pain"').get_data(as_text=True)
    assert "&lt;b&gt;<mark>chest pain</mark>&lt;/b&gt;" in html and "<svg" not in html
