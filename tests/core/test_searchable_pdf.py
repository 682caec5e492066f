"""core.searchable_pdf: the invisible text layer (words and where they sit, read back with pypdf),
what PDF/A-2b asks for (XMP identification, an sRGB output intent, embedded fonts), the chart's
cover and bookmarks. veraPDF is not available here: these check the parts one by one."""

from __future__ import annotations

import io
import re

import pikepdf
import pypdf
import pypdfium2 as pdfium
from PIL import Image, ImageDraw

from core.ingest.pdf_pages import PrintedPage
from core.ingest.word_boxes import WordBoxes
from core.searchable_pdf import Cover, PageWord, PdfPage, Section, chart_pdf, pdf_page, searchable_pdf

WIDTH, HEIGHT = 612.0, 792.0  # US Letter
PIXELS = (1700, 2200)  # 200 dpi


def page_image(boxes=()) -> bytes:
    """A white page with black bars where the words are (pixels)."""
    image = Image.new("L", PIXELS, 255)
    draw = ImageDraw.Draw(image)
    for left, top, right, bottom in boxes:
        draw.rectangle((left, top, right, bottom), fill=0)
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG")
    return jpeg.getvalue()


def placed(page) -> dict[str, tuple[float, float]]:
    """Each word of a page's text layer and where it starts (x, y in points from the bottom left)."""
    found: dict[str, tuple[float, float]] = {}

    def visit(text, cm, tm, font, size):
        if text.strip():
            found[text.strip()] = (tm[4], tm[5])

    page.extract_text(visitor_text=visit)
    return found


TEXT = "Blood pressure 120/80\nZoë Müller"
# start, end (in TEXT), confidence, left, top, width, height (pixels on a 1700 x 2200 image)
WORDS = [
    (0, 5, 95, 200, 300, 150, 40),
    (6, 14, 93, 370, 300, 230, 40),
    (15, 21, 90, 620, 300, 170, 40),
    (22, 25, 88, 200, 800, 110, 40),
    (26, 32, 91, 330, 800, 190, 40),
]


def two_pages() -> bytes:
    boxes = WordBoxes(size=PIXELS, words=WORDS)
    printed = PrintedPage(page_image(), WIDTH, HEIGHT, PIXELS)
    loose = PdfPage(page_image(), WIDTH, HEIGHT, loose_text="First loose line\nSecond loose line")
    return searchable_pdf([pdf_page(printed, TEXT, boxes), loose], "Lab report 2024-02-03", "bob")


def test_the_text_layer_has_the_words_where_their_boxes_are():
    pdf = pypdf.PdfReader(io.BytesIO(two_pages()))
    assert pdf.pages[0].extract_text().split() == TEXT.split()
    where = placed(pdf.pages[0])
    for start, end, _, left, top, _, height in WORDS:
        x, y = where[TEXT[start:end]]
        assert abs(x - left * WIDTH / PIXELS[0]) < 0.5
        # The baseline sits inside the word's box, nearer its bottom.
        box_top, box_bottom = HEIGHT - top * HEIGHT / PIXELS[1], HEIGHT - (top + height) * HEIGHT / PIXELS[1]
        assert box_bottom < y < box_bottom + (box_top - box_bottom) / 2
    assert pdf.pages[1].extract_text().splitlines() == ["First loose line", "Second loose line"]


def test_a_word_spans_its_box():
    """Selecting a word in a viewer covers the word on the image: the text is stretched to the box."""
    document = pdfium.PdfDocument(two_pages())
    textpage = document[0].get_textpage()
    found = textpage.search("pressure").get_next()
    right = textpage.get_charbox(found[0] + found[1] - 1)[2]
    first_left = textpage.get_charbox(found[0])[0]
    document.close()
    assert abs(first_left - 370 * WIDTH / PIXELS[0]) < 2
    assert abs(right - (370 + 230) * WIDTH / PIXELS[0]) < 3


def test_the_text_is_invisible():
    """The page looks exactly like its image: the words are there for search and selection only."""
    document = pdfium.PdfDocument(two_pages())
    image = document[0].render(scale=1, grayscale=True).to_pil().convert("L")
    document.close()
    assert image.getextrema()[0] > 240
    with pikepdf.open(io.BytesIO(two_pages())) as pdf:
        modes = [list(op.operands) for op in pikepdf.parse_content_stream(pdf.pages[0]) if str(op.operator) == "Tr"]
    assert modes == [[3]]


def test_boxes_made_on_an_image_of_another_shape_are_not_trusted():
    landscape = WordBoxes(size=(PIXELS[1], PIXELS[0]), words=WORDS)
    page = pdf_page(PrintedPage(page_image(), WIDTH, HEIGHT, PIXELS), TEXT, landscape)
    assert page.words == () and page.loose_text == TEXT


def test_a_page_that_cannot_be_rendered_says_so_and_keeps_its_text():
    pdf = pypdf.PdfReader(io.BytesIO(searchable_pdf([pdf_page(None, "Kept text", None)], "t", "bob")))
    assert pdf.pages[0].extract_text().strip() == "Kept text"


def test_pdfa_2b_identification_output_intent_and_embedded_fonts():
    data = two_pages()
    assert data.startswith(b"%PDF-1.7\n")
    with pikepdf.open(io.BytesIO(data)) as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "B"
        assert meta.pdfa_status == "2B"
        assert meta["dc:title"] == "Lab report 2024-02-03" and meta["dc:creator"] == ["bob"]
        assert "/Filter" not in pdf.Root.Metadata  # PDF/A: the XMP stays readable as it is
        (intent,) = pdf.Root.OutputIntents
        assert intent.S == pikepdf.Name.GTS_PDFA1
        profile = intent.DestOutputProfile
        icc = profile.read_bytes()
        assert profile.N == 3 and icc[36:40] == b"acsp" and icc[16:20] == b"RGB " and icc[12:16] == b"mntr"
        assert len(pdf.trailer.ID) == 2
        assert str(pdf.docinfo.Title) == "Lab report 2024-02-03" and "/Trapped" not in pdf.docinfo
        fonts = [font for page in pdf.pages for font in page.Resources.Font.values()]
        assert fonts
        for font in fonts:
            assert font.Subtype == pikepdf.Name.TrueType and "/FontFile2" in font.FontDescriptor
            assert "/ToUnicode" in font
        assert "/Encrypt" not in pdf.trailer
    assert pypdf.PdfReader(io.BytesIO(data)).xmp_metadata.dc_title == {"x-default": "Lab report 2024-02-03"}


def test_a_chart_has_its_cover_then_each_section_under_a_bookmark():
    page = PdfPage(page_image(), WIDTH, HEIGHT, [PageWord("Haemoglobin", 0.1, 0.1, 0.3, 0.12)])
    cover = Cover("Patient chart", [("Patient", "Müller, Zoë"), ("Documents", "2 (3 pages)")])
    data = chart_pdf(
        cover,
        [Section("Lab 2024", [page, page]), Section("Empty", []), Section("Letter 2025", [page])],
        "Chart",
        "alice",
    )
    pdf = pypdf.PdfReader(io.BytesIO(data))
    assert len(pdf.pages) == 4
    assert [item.title for item in pdf.outline] == ["Cover", "Lab 2024", "Letter 2025"]
    assert [pdf.get_destination_page_number(item) for item in pdf.outline] == [0, 1, 3]
    cover_text = pdf.pages[0].extract_text()
    assert "Patient chart" in cover_text and re.search(r"Patient\s*Müller, Zoë", cover_text)
    assert pdf.page_mode == "/UseOutlines"
    assert pdf.pages[3].extract_text().strip() == "Haemoglobin"
    with pikepdf.open(io.BytesIO(data)) as checked:
        assert checked.open_metadata().pdfa_status == "2B"
