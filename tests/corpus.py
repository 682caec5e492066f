"""A hard corpus of clinic paper, generated: fax-quality pages, phone photos, faded copies, rotated
pages, duplex scans with blank backs, two-column letters, cover sheets, other people's names on the
page, wrong MRN stickers, same-name patients and MRNs one digit apart.

Each document knows the truth: whose it is, whether a careful clerk could file it from what is
printed on it (`fileable`), and its type. `evaluate` runs the corpus through the box's real
pipeline (intake, OCR pool, filing) and counts what a clinic would care about: documents filed
to the wrong patient or to a patient invented from misread identifiers (misfiled, must be 0), and
how many of the fileable ones were filed without a person.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from tests.factories import A4_300DPI, MARGIN, barcode_page, save_pdf, save_tiff

FONTS = {
    "sans": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "serif": "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "mono": "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "bold": "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
}


@dataclass(frozen=True)
class Person:
    mrn: str
    last: str
    first: str
    dob: dt.date


# The clinic's register: same-name patients, MRNs one digit apart, names OCR confuses.
REGISTER = [
    Person("00123456", "Smith", "John", dt.date(1975, 3, 14)),
    Person("00123457", "Smith", "John", dt.date(1982, 7, 9)),
    Person("29701664", "Allen", "Mary", dt.date(1961, 11, 23)),
    Person("29701665", "Okafor", "Chidi", dt.date(1990, 1, 5)),
    Person("40012345", "Nguyen", "Thi", dt.date(2012, 9, 3)),
    Person("40012354", "Brown", "Sarah", dt.date(1948, 6, 30)),
    Person("51234567", "O'Neill", "Patrick", dt.date(1955, 12, 1)),
    Person("61200031", "García", "Lucía", dt.date(1987, 4, 17)),
    Person("70000123", "Kowalski", "Anna", dt.date(1979, 8, 8)),
    Person("80455120", "Williams", "David", dt.date(2001, 2, 28)),
    Person("80455121", "Williams", "Davina", dt.date(2001, 2, 28)),
    Person("91827364", "Patel", "Ravi", dt.date(1969, 10, 12)),
    Person("12121212", "Dubois", "Claire", dt.date(1993, 5, 21)),
    Person("33445566", "Murphy", "Sean", dt.date(1938, 3, 2)),
    Person("44556677", "Lindqvist", "Erik", dt.date(1984, 11, 11)),
]
BY_MRN = {p.mrn: p for p in REGISTER}
# Without a register the box can never create these from a document: an earlier patient's MRN is
# one character away, so the near-miss guard sends them to review by design.
NEAR_TWINS = {"00123457", "29701665", "40012354", "80455121"}
# Not in the register: someone the clinic has never seen.
NEWCOMER = Person("55500011", "Hartley", "Grace", dt.date(1999, 6, 15))


@dataclass
class CorpusDocument:
    name: str
    pages: list[Image.Image]
    truth: Person | None
    fileable: bool
    doc_type: str
    kind: str
    fileable_without_register: bool | None = None
    file_format: str = "pdf"
    # The paper itself carries a wrong MRN: with a register the near-miss guard catches it; without
    # one nothing on the box can tell it from a new patient, so it is reported, not scored.
    misprinted: bool = False

    def write(self, folder: Path) -> Path:
        target = folder / f"{self.name}.{self.file_format}"
        if self.file_format == "tif":
            return save_tiff(self.pages, target)
        if self.file_format == "png":
            self.pages[0].save(target, format="PNG", dpi=(300, 300))
            return target
        if self.file_format == "jpg":
            self.pages[0].save(target, format="JPEG", quality=55, dpi=(150, 150))
            return target
        return save_pdf(self.pages, target)


@dataclass
class Report:
    documents: int = 0
    misfiled: list[str] = field(default_factory=list)
    fileable: int = 0
    auto_filed: int = 0
    type_right: int = 0
    review_without_reason: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    misprinted_created: list[str] = field(default_factory=list)

    @property
    def auto_rate(self) -> float:
        return self.auto_filed / self.fileable if self.fileable else 1.0

    @property
    def type_accuracy(self) -> float:
        return self.type_right / self.documents if self.documents else 1.0


def _font(kind: str, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(FONTS[kind], size)
    except OSError:
        return ImageFont.load_default(size=size)


def page(
    lines: list[str], *, face: str = "sans", size: int = 42, columns: list[list[str]] | None = None, box_lines: int = 0
) -> Image.Image:
    """A clean A4 300 dpi page: `lines` of text; `columns` draws a second block beside the first
    lines (a two-column header); `box_lines` frames the first lines like a printed header box."""
    image = Image.new("L", A4_300DPI, 255)
    draw = ImageDraw.Draw(image)
    font = _font(face, size)
    step = int(size * 1.7)
    y = MARGIN
    for line in lines:
        draw.text((MARGIN, y), line, fill=15, font=font)
        y += step
    if columns:
        for offset, column in enumerate(columns):
            cy = MARGIN
            for line in column:
                draw.text((MARGIN + 1150 * (offset + 1), cy), line, fill=15, font=font)
                cy += step
    if box_lines:
        draw.rectangle(
            (MARGIN - 40, MARGIN - 40, A4_300DPI[0] - MARGIN + 40, MARGIN + box_lines * step + 10), outline=0, width=6
        )
    return image


def blank() -> Image.Image:
    """The blank back of a duplex scan: paper grain and a little dust, no text."""
    image = Image.new("L", A4_300DPI, 250)
    rng = random.Random(7)
    pixels = image.load()
    for _ in range(1500):
        pixels[rng.randrange(A4_300DPI[0]), rng.randrange(A4_300DPI[1])] = rng.choice((120, 180, 220))
    return image.filter(ImageFilter.GaussianBlur(0.8))


def fax(image: Image.Image, seed: int = 3) -> Image.Image:
    """A fax: 200x100 dpi fine mode (halved rows), thresholded to black and white, line noise."""
    small = image.resize((image.width * 2 // 3, image.height // 3), Image.Resampling.BILINEAR)
    rng = random.Random(seed)
    pixels = small.load()
    for _ in range(int(small.width * small.height * 0.002)):
        pixels[rng.randrange(small.width), rng.randrange(small.height)] = 0
    bw = small.point(lambda v: 0 if v < 150 else 255).resize(image.size, Image.Resampling.NEAREST)
    return bw.filter(ImageFilter.GaussianBlur(0.5))


def photo(image: Image.Image) -> Image.Image:
    """A phone photo of the page: uneven light, soft focus, slightly turned, lower resolution."""
    light = Image.linear_gradient("L").rotate(90).resize(image.size).point(lambda v: 150 + v * 105 // 255)
    lit = ImageChops.multiply(image, light).rotate(2.5, resample=Image.Resampling.BICUBIC, fillcolor=160)
    soft = lit.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR)
    return soft.filter(ImageFilter.GaussianBlur(0.8)).resize(image.size, Image.Resampling.BILINEAR)


def faded(image: Image.Image) -> Image.Image:
    """A pale photocopy: toner at half strength, grey background."""
    return image.point(lambda v: 120 + v * 110 // 255).filter(ImageFilter.GaussianBlur(0.6))


def turned(image: Image.Image, degrees: int) -> Image.Image:
    return image.rotate(degrees, expand=True)


def _dmy(d: dt.date) -> str:
    return d.strftime("%d/%m/%Y")


def _body(kind: str) -> list[str]:
    bodies = {
        "lab_report": [
            "Specimen: venous blood, collected at the clinic.",
            "Haemoglobin 13.5 g/dL   Reference range 13.0 - 17.0",
            "White cell count 6.1   Reference range 4.0 - 11.0",
            "Comment: results within normal limits.",
        ],
        "referral": [
            "Dear Dr Ahmed,",
            "Thank you for seeing this patient, whom I have referred for assessment",
            "of persistent knee pain. Reason for referral: suspected meniscal tear.",
            "Yours sincerely,",
            "Dr Helen Carter, General Practitioner",
        ],
        "consent_form": [
            "I hereby consent to the procedure described to me by Dr Alan Jones.",
            "I was referred by my GP and I understand the risks explained to me.",
            "Signature of patient: ____________   Witness: Nurse Sarah Brown",
        ],
        "prescription": [
            "Rx: Amoxicillin 500 mg capsules",
            "Sig: take one capsule three times daily for 7 days",
            "Dispense: 21 capsules   Refills: 0",
            "Prescriber: Dr Alan Jones (referred from A&E)",
        ],
        "discharge_summary": [
            "Admission date: 02/03/2024   Date of discharge: 06/03/2024",
            "Hospital course: uneventful recovery after appendicectomy.",
            "Discharge medications: paracetamol 1 g as needed.",
            "Follow-up: referred back to the GP in two weeks.",
        ],
        "invoice": [
            "Bill to: the patient named above",
            "Consultation fee   45.00",
            "Subtotal 45.00   Amount due 45.00",
            "Payment terms: 30 days",
        ],
    }
    return bodies[kind]


TITLES = {
    "lab_report": "LABORATORY REPORT",
    "referral": "REFERRAL LETTER",
    "consent_form": "CONSENT FORM",
    "prescription": "PRESCRIPTION",
    "discharge_summary": "DISCHARGE SUMMARY",
    "invoice": "INVOICE",
}


def labelled(
    p: Person,
    doc_type: str,
    style: str = "classic",
    mrn: str | None = None,
    dob: str | None = None,
    first: str | None = None,
    extra: list[str] | None = None,
) -> list[str]:
    """The lines of one document with its identifiers printed in `style`."""
    mrn = mrn or p.mrn
    first = first or p.first
    dob = dob or _dmy(p.dob)
    title = [TITLES[doc_type], "North Street Clinic, 4 Mill Lane", ""]
    ids = {
        "classic": [f"Patient Name: {p.last.upper()}, {first}", f"Date of Birth: {dob}", f"MRN: {mrn}"],
        "surname": [
            f"Surname: {p.last.upper()}",
            f"Forename(s): {first}",
            f"D.O.B.: {p.dob:%d.%m.%Y}",
            f"Hosp No: {mrn}",
        ],
        "oneline": [f"{p.last.upper()}, {first.upper()} ({p.dob:%d-%b-%Y}) MRN {mrn}"],
        "name_first": [f"Name: {first} {p.last}", f"Born: {p.dob:%d %B %Y}", f"Patient ID: {mrn}"],
        "unit": [
            f"Family name: {p.last}",
            f"Given name(s): {first}",
            f"Date of birth: {p.dob:%Y-%m-%d}",
            f"Unit No: {mrn}",
        ],
        "chart": [
            f"Patient: {first} {p.last}",
            f"DOB: {p.dob:%m/%d/%Y}" if dob == "mdy" else f"DOB: {dob}",
            f"Chart No: {mrn}",
        ],
    }[style]
    return title + ids + ["Date: 02/04/2024", ""] + (extra or []) + _body(doc_type)


def build() -> list[CorpusDocument]:
    """The corpus: every kind named in the module docstring, several times over."""
    r = BY_MRN
    docs: list[CorpusDocument] = []

    def add(name, pages, truth, fileable, doc_type, kind, **more):
        docs.append(CorpusDocument(name, pages, truth, fileable, doc_type, kind, **more))

    styles = ["classic", "surname", "oneline", "name_first", "unit", "classic"]
    types = ["lab_report", "referral", "consent_form", "prescription", "discharge_summary", "invoice"]
    for i, p in enumerate(REGISTER[:12]):
        style, doc_type = styles[i % len(styles)], types[i % len(types)]
        face = ["sans", "serif", "mono"][i % 3]
        add(f"clean-{i:02d}", [page(labelled(p, doc_type, style), face=face)], p, True, doc_type, f"clean {style}")
    for i, p in enumerate([r["29701664"], r["51234567"], r["70000123"], r["12121212"]]):
        doc_type = types[(i + 1) % len(types)]
        add(
            f"fax-{i}",
            [
                fax(page(labelled(p, doc_type, styles[i]), face="mono", size=46), seed=i),
                fax(page(_body(doc_type), face="mono", size=46), seed=i + 9),
            ],
            p,
            True,
            doc_type,
            "fax",
        )
    for i, p in enumerate([r["91827364"], r["33445566"], r["40012345"]]):
        add(
            f"photo-{i}",
            [photo(page(labelled(p, "lab_report", styles[i + 1]), size=48))],
            p,
            True,
            "lab_report",
            "phone photo",
            file_format="png",
        )
    for i, p in enumerate([r["44556677"], r["61200031"]]):
        add(
            f"faded-{i}",
            [faded(page(labelled(p, "discharge_summary", styles[i + 2])))],
            p,
            True,
            "discharge_summary",
            "faded copy",
        )
    for i, (p, degrees) in enumerate([(r["80455120"], 180), (r["40012354"], 90)]):
        add(
            f"rotated-{i}",
            [turned(page(labelled(p, "referral", "classic")), degrees)],
            p,
            True,
            "referral",
            "rotated page",
            file_format="tif",
        )
    for i, p in enumerate([r["00123456"], r["12121212"]]):
        front = page(labelled(p, "discharge_summary", "unit"))
        second = page([*_body("discharge_summary"), "Continued care plan agreed with the patient."])
        add(
            f"duplex-{i}",
            [front, blank(), second, blank()],
            p,
            True,
            "discharge_summary",
            "duplex, blank backs",
            file_format="tif",
        )
    p = r["40012345"]
    header = [TITLES["lab_report"], "", f"Patient: {p.first} {p.last}", "Ward: Children's Day Unit"]
    add(
        "two-column",
        [page([*header, "", *_body("lab_report")], columns=[["", "", f"MRN: {p.mrn}", f"DOB: {_dmy(p.dob)}"]])],
        p,
        True,
        "lab_report",
        "two-column header",
    )
    p = r["91827364"]
    add(
        "boxed",
        [
            page(
                [*labelled(p, "prescription", "classic")[2:6], "", TITLES["prescription"], *_body("prescription")],
                box_lines=4,
            )
        ],
        p,
        True,
        "prescription",
        "boxed header",
    )
    p = r["33445566"]
    add(
        "page-two",
        [
            page([TITLES["referral"], "", *_body("referral")]),
            page(
                [
                    "Patient details",
                    f"Name: {p.first} {p.last}",
                    f"D.O.B.: {p.dob:%d.%m.%Y}",
                    f"Hospital Number: {p.mrn}",
                ]
            ),
        ],
        p,
        True,
        "referral",
        "identifiers on page 2",
    )
    p = r["70000123"]
    cover = barcode_page(f"DFSEP|MRN={p.mrn}|TYPE=lab_report", caption="COVER SHEET")
    add(
        "cover-sheet",
        [cover, page([TITLES["lab_report"], "", *_body("lab_report")])],
        p,
        True,
        "lab_report",
        "cover sheet",
    )
    p = r["51234567"]
    add(
        "other-names",
        [
            page(
                labelled(
                    p,
                    "referral",
                    "classic",
                    extra=[
                        "Referring doctor: Dr Alan Jones",
                        "Next of kin: Mary O'Neill (wife)",
                        "cc: Sarah Brown, practice nurse",
                        "",
                    ],
                )
            )
        ],
        p,
        True,
        "referral",
        "other people's names",
    )
    p = r["00123457"]
    add("same-name", [page(labelled(p, "lab_report", "classic"))], p, True, "lab_report", "same-name patients")
    p = r["80455121"]
    add("twins-dob", [page(labelled(p, "invoice", "name_first"))], p, True, "invoice", "same DOB, near name")
    a, b = r["12121212"], r["91827364"]
    add(
        "wrong-sticker",
        [page(labelled(a, "lab_report", "classic", mrn=b.mrn))],
        a,
        False,
        "lab_report",
        "wrong MRN sticker",
    )
    p = r["29701664"]
    add(
        "phantom-fax",
        [
            fax(
                page(
                    labelled(p, "lab_report", "classic", mrn="29701684", first="Marv", dob=_dmy(p.dob.replace(day=28))),
                    face="mono",
                    size=46,
                ),
                seed=5,
            ),
            fax(page(_body("lab_report"), face="mono", size=46), seed=6),
        ],
        p,
        False,
        "lab_report",
        "misread MRN, name and date of birth",
    )
    p = r["40012354"]
    add(
        "near-mrn",
        [page(labelled(p, "referral", "classic", mrn="40012364"))],
        p,
        False,
        "referral",
        "MRN one digit off",
        misprinted=True,
    )
    p = r["44556677"]
    add(
        "no-mrn",
        [
            page(
                [
                    TITLES["referral"],
                    "",
                    f"Patient Name: {p.last}, {p.first}",
                    f"DOB: {_dmy(p.dob)}",
                    "",
                    *_body("referral"),
                ]
            )
        ],
        p,
        False,
        "referral",
        "no MRN",
    )
    add(
        "newcomer",
        [page(labelled(NEWCOMER, "lab_report", "classic"))],
        NEWCOMER,
        False,
        "lab_report",
        "patient not in the register",
        fileable_without_register=True,
    )
    add(
        "newcomer-again",
        [page(labelled(NEWCOMER, "prescription", "surname"))],
        NEWCOMER,
        False,
        "prescription",
        "patient not in the register, second document",
        fileable_without_register=True,
    )
    p = r["61200031"]
    add(
        "nhs",
        [
            page(
                [
                    TITLES["lab_report"],
                    "",
                    f"Name: {p.first} {p.last}",
                    "NHS No: 943 476 5919",
                    f"MRN: {p.mrn}",
                    f"Date of birth: {_dmy(p.dob)}",
                    "",
                    *_body("lab_report"),
                ]
            )
        ],
        p,
        True,
        "lab_report",
        "NHS number beside the MRN",
    )
    p = r["00123456"]
    add(
        "table-header",
        [
            page(
                [
                    TITLES["lab_report"],
                    "",
                    f"Patient: Mr John Smith    DOB: {_dmy(p.dob)}    MRN: {p.mrn}",
                    "",
                    *_body("lab_report"),
                ],
                face="serif",
            )
        ],
        p,
        True,
        "lab_report",
        "identifiers on one line",
    )
    p = r["91827364"]
    add(
        "gp-namesake",
        [
            page(
                labelled(
                    p,
                    "referral",
                    "name_first",
                    extra=["Registered GP: Dr Ravi Patel", "Copy to: Ravi Patel Pharmacy", ""],
                )
            )
        ],
        p,
        True,
        "referral",
        "the GP has the patient's name",
    )
    p = r["44556677"]
    add(
        "low-jpeg",
        [page(labelled(p, "prescription", "surname"), size=40).resize((1240, 1754), Image.Resampling.BILINEAR)],
        p,
        True,
        "prescription",
        "150 dpi JPEG",
        file_format="jpg",
    )
    p = r["51234567"]
    add(
        "fax-page-two",
        [
            fax(page([TITLES["discharge_summary"], "", *_body("discharge_summary")], face="mono"), 11),
            fax(
                page(
                    [
                        "Patient details:",
                        f"Surname: {p.last.upper()}",
                        f"Forename(s): {p.first}",
                        f"D.O.B.: {p.dob:%d.%m.%Y}",
                        f"Hosp No: {p.mrn}",
                    ],
                    face="mono",
                    size=46,
                ),
                12,
            ),
        ],
        p,
        True,
        "discharge_summary",
        "fax, identifiers on page 2",
    )
    a, b = r["12121212"], r["91827364"]
    add(
        "sticker-no-name",
        [page([TITLES["lab_report"], "", f"MRN: {b.mrn}", f"DOB: {_dmy(a.dob)}", "", *_body("lab_report")])],
        a,
        False,
        "lab_report",
        "wrong MRN sticker, date of birth only",
    )
    return docs


def register_csv(path: Path) -> Path:
    """The register as the practice-management system exports it."""
    lines = ["mrn,last_name,first_name,dob"] + [f"{p.mrn},{p.last},{p.first},{p.dob.isoformat()}" for p in REGISTER]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _same(patient, truth: Person) -> bool:
    from core.ingest.extract import fold

    return (
        patient.mrn == truth.mrn
        and fold(patient.last_name) == fold(truth.last)
        and fold(patient.first_name) == fold(truth.first)
        and patient.dob == truth.dob
    )


def evaluate(docs: list[CorpusDocument], filed: dict[str, list], with_register: bool) -> Report:
    """Score the box's outcome. `filed[name]` lists (status, patient or None, reason, doc_type) per
    document cut from that file; the patient is a record with mrn, last_name, first_name, dob."""
    report = Report()
    for doc in docs:
        outcomes = filed[doc.name]
        fileable = doc.fileable
        if not with_register:
            fileable = (
                doc.fileable_without_register
                if doc.fileable_without_register is not None
                else (doc.fileable and doc.truth is not None and doc.truth.mrn not in NEAR_TWINS)
            )
        for status, patient, reason, doc_type in outcomes:
            report.documents += 1
            report.type_right += doc_type == doc.doc_type
            if status == "filed":
                if doc.misprinted and not with_register:
                    report.misprinted_created.append(f"{doc.name}: filed to MRN {patient.mrn}")
                elif doc.truth is None or patient is None or not _same(patient, doc.truth):
                    report.misfiled.append(f"{doc.name} ({doc.kind}) filed to {patient and patient.mrn}")
            elif not reason:
                report.review_without_reason.append(doc.name)
        if fileable:
            report.fileable += 1
            if all(status == "filed" for status, *_ in outcomes):
                report.auto_filed += 1
            else:
                report.missed.append(f"{doc.name} ({doc.kind}): {'; '.join(str(o[2]) for o in outcomes)}")
    return report


def run_box(config, docs: list[CorpusDocument], folder: Path, with_register: bool) -> dict[str, list]:
    """Put the corpus through an open box's real pipeline, one file at a time in corpus order (so
    that, without a register, patients are created in a known order); the outcome per file."""
    from appliance.ingest.intake import accept_file
    from appliance.ingest.runner import JobRunner
    from appliance.models import Document
    from appliance.register import import_register

    if with_register:
        path = register_csv(folder / "register.csv")
        import_register(path.name, path.read_bytes(), config.date_order, "", actor="test")
    runner = JobRunner(config)
    filed: dict[str, list] = {}
    try:
        runner.start_pool()
        for doc in docs:
            intake = accept_file(doc.write(folder), config)
            runner.run_until_idle({intake.scan.id})
            rows = Document.select().where(Document.scan == intake.scan.id).order_by(Document.first_page)
            filed[doc.name] = [(d.status, d.patient, d.review_reason, d.doc_type) for d in rows]
    finally:
        runner.close()
    return filed
