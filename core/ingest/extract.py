"""Read the identifiers (MRN, patient name, date of birth), document date and type from text."""

from __future__ import annotations

import bisect
import datetime as dt
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError
from .dates import find_dates

DOC_TYPES = ("lab_report", "referral", "prescription", "discharge_summary", "consent_form", "invoice", "other")

DEFAULT_TYPE_RULES: dict[str, list[str]] = {
    "discharge_summary": [
        "discharge summary",
        "date of discharge",
        "discharge date",
        "discharge diagnosis",
        "admission date",
        "hospital course",
        "discharge medications",
    ],
    "lab_report": [
        "laboratory",
        "lab report",
        "test results",
        "reference range",
        "specimen",
        "pathology",
        "haemoglobin",
        "hemoglobin",
        "collected",
        "result flag",
    ],
    "referral": ["referral", "referred", "refer to", "reason for referral", "dear dr", "kindly see"],
    "prescription": ["prescription", "rx", "dispense", "refills", "sig:", "take one", "tablets", "capsules"],
    "consent_form": [
        "consent",
        "i hereby",
        "i authorise",
        "i authorize",
        "i understand the risks",
        "signature of patient",
        "witness",
    ],
    "invoice": ["invoice", "amount due", "total due", "balance due", "bill to", "payment terms", "subtotal"],
}

_GAP = r"[\s:.,;#]*"
# The MRN as clinics label it: MRN, Hosp No, Hospital Number, Unit No, Chart No, Patient ID or No,
# Record #, Medical Record Number, Case No. OCR puts stray dots and colons between the words.
MRN_LABEL = re.compile(
    r"\b(?P<label>M[\s.,]?R[\s.,]?N\b\.?|Medical\s+Record\s+(?:No\b\.?|Number|Num\b\.?|\#)"
    r"|Patient" + _GAP + r"(?:ID|No\b\.?|Number|\#)|Record\s*(?:\#|No\b\.?|Number)"
    r"|Hosp(?:ital)?\b\.?\s*(?:No\b\.?|Number|\#)|(?:Unit|Chart|Case)\s*(?:No\b\.?|Number|\#))"
    r"[\s:#.\-]*(?P<value>[A-Z0-9][A-Z0-9\-/]{2,24})",
    re.I,
)
NHS_LABEL = re.compile(r"\bNHS\s*(?:No\b\.?|Number|\#)?[\s:#.\-]*(?P<value>\d{3}[ \-]?\d{3}[ \-]?\d{4})\b", re.I)
NAME_LABEL = re.compile(
    r"\b(?P<label>Patient(?:'s)?\s+Name|Pt\.?\s+Name|Patient|Name)\s*[:;]\s*(?P<value>[^\n]+)", re.I
)
SURNAME_LABEL = re.compile(r"\b(?:Surname|Family\s+name|Last\s+name)\s*[:;]\s*(?P<value>[^\n]+)", re.I)
FORENAME_LABEL = re.compile(
    r"\b(?:Fore\s?names?(?:\(s\))?|Given\s+names?(?:\(s\))?|First\s+names?(?:\(s\))?)\s*[:;]\s*(?P<value>[^\n]+)",
    re.I,
)
# `LAST, FIRST (03-Sep-2012) MRN 123`: a name at the start of a line, its date of birth in brackets.
LINE_FORM = re.compile(
    r"^(?:[^\w\n]|_){0,4}(?P<last>[^\W\d_][^\n,()]{1,40}),\s*(?P<first>[^\n()]{1,40}?)\s*[^\w\n(]{0,3}"
    r"\((?P<dob>[^()\n]{6,24})\)",
    re.M,
)
# `Re: First Last MRN 123`: a letter's subject line names the patient when an identifier follows.
RE_LINE = re.compile(
    r"^[ \t]*Re[ \t]*[:;][ \t]*(?P<value>[^\n]+?)[ \t]*[,;]?[ \t]+"
    r"(?=(?:MRN|M\.R\.N|Hosp|NHS|DOB|D\.O\.B|Date\s+of\s+birth|Born|Patient\s+ID|Unit\s+No|Chart\s+No)\b)",
    re.M | re.I,
)
NAME_DISQUALIFIERS = re.compile(
    r"(doctor|dr\.?|physician|provider|referr\w*|guardian|parent|kin|emergency|contact|signature|staff|nurse|"
    r"clinician|witness|ordering|attending|consultant|practitioner|prescriber|pharmacist|author|user|file)\s*$",
    re.I,
)
NAME_STOP = re.compile(
    r"\s+(?:DOB|D\.O\.B|Date|MRN|M\.R\.N|Sex|Gender|Age|Patient|Record|Medical|Phone|Tel|Address|ID|Hosp\w*|NHS"
    r"|Born|Unit|Chart|Ward)\b.*$",
    re.I,
)
TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir"}
DOB_LABEL = re.compile(
    r"\b(?P<label>D[\s.,]{0,2}O[\s.,]{0,2}B\b\.?|Date\s+of\s+Birth|Birth\s*date|Born)\s*[:;\-]?\s*", re.I
)
DOC_DATE_LABELS = [
    r"Date\s+of\s+(?:Service|Visit|Discharge|Report|Referral|Collection|Issue)",
    r"(?:Service|Visit|Discharge|Report|Referral|Collection|Invoice|Issue|Letter|Consent)\s+Date",
    r"Date\s+(?:Reported|Collected|Issued|Signed)",
    r"Collected|Reported|Issued",
    r"Date",
]
# Characters OCR scatters around words on a poor copy; never part of a name.
NOISE = str.maketrans("", "", '“”"°«»_~|*©®@¢')
# OCR's usual confusions between letters and digits, folded for comparing identifiers only.
CONFUSABLES = str.maketrans(
    {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "|": "1", "S": "5", "B": "8", "G": "6", "Z": "2", "T": "7"}
)


def normalise_mrn(raw: str) -> str:
    """The MRN as stored and compared: upper case, without spaces, dashes or slashes."""
    return re.sub(r"[\s\-/]", "", raw).upper()


def fold_mrn(mrn: str) -> str:
    """The MRN with OCR's letter/digit confusions folded (O/0, I/l/1, S/5, B/8, G/6, Z/2): two
    readings that fold alike are one candidate, not a conflict."""
    return normalise_mrn(mrn).translate(CONFUSABLES)


def nhs_number_valid(number: str) -> bool:
    """The NHS number's modulus-11 check digit holds."""
    digits = [int(ch) for ch in number if ch.isdigit()]
    if len(digits) != 10:
        return False
    check = 11 - sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True)) % 11
    return (0 if check == 11 else check) == digits[9] and check != 10


def fold(name: str) -> str:
    """A name reduced for comparison: no accents, no case, single spaces."""
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w\s'\-]", " ", plain).casefold().split())


@dataclass(frozen=True)
class PersonName:
    last: str
    first: str

    @property
    def key(self) -> tuple[str, str]:
        return fold(self.last), fold(self.first)

    def display(self) -> str:
        return f"{self.last}, {self.first}"


def parse_name(raw: str) -> PersonName | None:
    """'LAST, First [Middle]' or 'First [Middle] Last' as a name, or None if it is not one."""
    value = NAME_STOP.sub("", raw).strip(" ,;:|")
    if not value:
        return None
    if "," in value:
        last, _, rest = value.partition(",")
        last_words, rest_words = last.split(), rest.split()
        words = [w for w in rest_words if w.strip(".").lower() not in TITLES]
        if not last_words or not words:
            return None
        last, first = " ".join(last_words), words[0]
    else:
        words = [w for w in value.split() if w.strip(".").lower() not in TITLES]
        if len(words) < 2 or len(words) > 4:
            return None
        first, last = words[0], words[-1]
    pieces = [*last.split(), first]
    if not all(re.fullmatch(r"[^\W\d_](?:[^\W\d_]|['’\-])*", piece) for piece in pieces):
        return None
    return PersonName(last=_title(last), first=_title(first))


def _title(word: str) -> str:
    """SMITH or smith as Smith, O'NEILL as O'Neill, DUPONT-MARTIN as Dupont-Martin; mixed case kept."""
    if not (word.isupper() or word.islower()):
        return word
    return re.sub(r"[^\W\d_]+", lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(), word)


@dataclass(frozen=True)
class Found:
    """One identifier as read: its value, where in the text, how it was labelled, and how sure
    the OCR was (the lowest word confidence over it, 0-100; None when no OCR was involved)."""

    value: Any
    span: tuple[int, int]
    label: str
    confidence: float | None = None

    def certain(self, threshold: float) -> bool:
        return self.confidence is None or self.confidence >= threshold

    def describe(self) -> str:
        sure = "" if self.confidence is None else f", OCR confidence {self.confidence:.0f}"
        return f"{self.label}{sure}"


@dataclass
class Extraction:
    mrn_reads: list[Found] = field(default_factory=list)
    name_reads: list[Found] = field(default_factory=list)
    dob_reads: list[Found] = field(default_factory=list)
    nhs_numbers: list[str] = field(default_factory=list)
    doc_date: dt.date | None = None
    doc_type: str = "other"
    notes: list[str] = field(default_factory=list)
    text: str = ""

    @property
    def mrns(self) -> list[str]:
        return _unique(f.value for f in self.mrn_reads)

    @property
    def names(self) -> list[PersonName]:
        return _unique(f.value for f in self.name_reads)

    @property
    def dobs(self) -> list[dt.date]:
        return _unique(f.value for f in self.dob_reads)

    def as_dict(self) -> dict:
        return {
            "mrns": self.mrns,
            "names": [n.display() for n in self.names],
            "dobs": [d.isoformat() for d in self.dobs],
            "nhs_numbers": self.nhs_numbers,
            "doc_date": self.doc_date.isoformat() if self.doc_date else None,
            "doc_type": self.doc_type,
            "notes": self.notes,
        }


def _unique(values):
    seen, out = set(), []
    for value in values:
        key = value.key if isinstance(value, PersonName) else value
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


class _Confidence:
    """The lowest OCR word confidence over a span of the text (None without OCR words)."""

    def __init__(self, words: Sequence[Sequence[int]] | None):
        self.words: list[tuple[int, ...]] = sorted(tuple(w) for w in words or [])
        self.starts = [w[0] for w in self.words]

    def __call__(self, start: int, end: int) -> float | None:
        if not self.words:
            return None
        first = max(0, bisect.bisect_right(self.starts, start) - 1)
        found = [w[2] for w in self.words[first:] if w[0] < end and w[1] > start]
        return float(min(found)) if found else None


def _label(raw: str) -> str:
    return " ".join(raw.split()).rstrip(".:")


def _find_mrns(text: str, confidence: _Confidence) -> list[Found]:
    found = []
    for match in MRN_LABEL.finditer(text):
        value = normalise_mrn(match["value"])
        if sum(ch.isdigit() for ch in value.translate(CONFUSABLES)) >= 3 and any(ch.isdigit() for ch in value):
            span = match.span("value")
            found.append(Found(value, span, f"labelled {_label(match['label'])!r}", confidence(*span)))
    return found


def _find_nhs(text: str, notes: list[str]) -> list[str]:
    numbers = []
    for match in NHS_LABEL.finditer(text):
        number = re.sub(r"\D", "", match["value"])
        if nhs_number_valid(number):
            numbers.append(number)
        else:
            notes.append(f"NHS number {number} fails its check digit and was not used")
    return _unique(numbers)


def _clean(raw: str) -> str:
    return " ".join(raw.translate(NOISE).split()).strip(" .,;:-")


def _find_names(text: str, order: str, confidence: _Confidence) -> tuple[list[Found], list[Found]]:
    """Names (and the dates of birth of one-line forms) read from the text."""
    names, dobs = [], []
    for match in NAME_LABEL.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if NAME_DISQUALIFIERS.search(text[line_start : match.start()]):
            continue
        name = parse_name(_clean(match["value"]))
        if name is not None:
            span = match.span("value")
            names.append(
                Found(name, span, f"labelled {_label(match['label'])!r}", _name_confidence(text, span, confidence))
            )
    for match in RE_LINE.finditer(text):
        name = parse_name(_clean(match["value"]))
        if name is not None:
            names.append(Found(name, match.span("value"), "the letter's Re: line", confidence(*match.span("value"))))
    surnames, forenames = list(SURNAME_LABEL.finditer(text)), list(FORENAME_LABEL.finditer(text))
    for last, first in zip(surnames, forenames, strict=False):
        last_value = NAME_STOP.sub("", _clean(last["value"])).split(" Fore")[0].split(" Given")[0]
        first_value = NAME_STOP.sub("", _clean(first["value"]))
        name = parse_name(f"{last_value}, {first_value}")
        if name is not None:
            spans = [last.span("value"), first.span("value")]
            sure = [c for c in (confidence(*span) for span in spans) if c is not None]
            names.append(
                Found(
                    name,
                    (min(s for s, _ in spans), max(e for _, e in spans)),
                    "labelled 'Surname' and 'Forename'",
                    min(sure) if sure else None,
                )
            )
    for match in LINE_FORM.finditer(text):
        dates = find_dates(match["dob"], order)
        name = parse_name(f"{_clean(match['last'])}, {_clean(match['first'])}")
        if name is None or not re.search(r"(?:19|20)\d\d", match["dob"]):
            continue
        span = (match.start("last"), match.end("first"))
        names.append(Found(name, span, "a 'LAST, First (date of birth)' line", confidence(*span)))
        if not dates:
            continue
        dob_span = (match.start("dob") + dates[0].start, match.start("dob") + dates[0].end)
        dobs.append(Found(dates[0].value, dob_span, "in brackets after the name", confidence(*dob_span)))
    return names, dobs


def _name_confidence(text: str, span: tuple[int, int], confidence: _Confidence) -> float | None:
    """Confidence over the words of the name itself, not what follows it on the line."""
    value = text[span[0] : span[1]]
    kept = NAME_STOP.sub("", value)
    return confidence(span[0], span[0] + len(kept.rstrip()))


def _find_dobs(text: str, order: str, notes: list[str], confidence: _Confidence) -> list[Found]:
    dobs = []
    for match in DOB_LABEL.finditer(text):
        window = text[match.end() : match.end() + 40].split("\n")[0]
        dates = find_dates(window, order)
        if dates and dates[0].start <= 3:
            found = dates[0]
            span = (match.end() + found.start, match.end() + found.end)
            dobs.append(Found(found.value, span, f"labelled {_label(match['label'])!r}", confidence(*span)))
            if found.note:
                notes.append(f"date of birth {found.note}")
    return dobs


def _find_doc_date(text: str, order: str, dob_spans, notes: list[str]) -> dt.date | None:
    def usable(found, offset=0):
        start = offset + found.start
        return not any(s <= start < e for s, e in dob_spans)

    for label in DOC_DATE_LABELS:
        for match in re.finditer(r"\b" + label + r"\b\s*[:\-]?\s*", text, re.I):
            window = text[match.end() : match.end() + 40].split("\n")[0]
            dates = [d for d in find_dates(window, order) if d.start <= 3 and usable(d, match.end())]
            if dates:
                if dates[0].note:
                    notes.append(f"document date {dates[0].note}")
                return dates[0].value
    for found in find_dates(text, order):
        if usable(found):
            if found.note:
                notes.append(f"document date {found.note}")
            return found.value
    return None


def load_type_rules(path: Path | None) -> dict[str, list[str]]:
    """Keyword rules per document type: the defaults, or a JSON file {type: [keywords]}."""
    if path is None:
        return DEFAULT_TYPE_RULES
    try:
        rules = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"APPLIANCE_DOC_TYPE_RULES: cannot read {path}: {error}") from None
    if not isinstance(rules, dict) or not all(isinstance(v, list) for v in rules.values()):
        raise ConfigError(f'APPLIANCE_DOC_TYPE_RULES: {path} must hold {{"type": ["keyword", ...]}}')
    unknown = set(rules) - set(DOC_TYPES)
    if unknown:
        raise ConfigError(f"APPLIANCE_DOC_TYPE_RULES: unknown document types in {path}: {', '.join(sorted(unknown))}")
    return {doc_type: [k.lower() for k in keywords] for doc_type, keywords in rules.items()}


TITLE_LINES = 3
TITLE_MAX_CHARS = 60


def _keyword_hits(keywords: list[str], text: str) -> int:
    hits = 0
    for keyword in keywords:
        pattern = r"(?<!\w)" + re.escape(keyword.strip()) + (r"(?!\w)" if keyword[-1:].isalnum() else "")
        hits += len(re.findall(pattern, text))
    return hits


def classify(text: str, rules: dict[str, list[str]]) -> str:
    """The document type its title names, else the one whose keywords the text uses most, else 'other'.

    The title is the first short line that names a type, among the first lines with text: a
    consent form whose body says "referred" is a consent form. Body keywords only break a tie
    between types the title names.
    """
    lowered = text.lower()
    body = {doc_type: _keyword_hits(keywords, lowered) for doc_type, keywords in rules.items()}
    named: list[str] = []
    for line in [line for line in lowered.splitlines() if line.strip()][:TITLE_LINES]:
        if len(line.strip()) > TITLE_MAX_CHARS:
            break
        in_line = {doc_type: _keyword_hits(keywords, line) for doc_type, keywords in rules.items()}
        if any(in_line.values()):
            named = [doc_type for doc_type, hits in in_line.items() if hits == max(in_line.values())]
            break
    candidates = named or [doc_type for doc_type, hits in body.items() if hits]
    if not candidates:
        return "other"
    return max(candidates, key=lambda doc_type: body[doc_type])


def extract(
    text: str,
    order: str,
    rules: dict[str, list[str]] = DEFAULT_TYPE_RULES,
    words: Sequence[Sequence[int]] | None = None,
) -> Extraction:
    """Everything the filing rule needs from a document's text; `words` are the OCR words
    (start, end, confidence, ...) placed in `text`, for how sure each identifier is."""
    confidence = _Confidence(words)
    result = Extraction(text=text)
    result.mrn_reads = _find_mrns(text, confidence)
    result.nhs_numbers = _find_nhs(text, result.notes)
    result.name_reads, line_dobs = _find_names(text, order, confidence)
    result.dob_reads = _find_dobs(text, order, result.notes, confidence) + line_dobs
    dob_spans = [f.span for f in result.dob_reads]
    result.doc_date = _find_doc_date(text, order, dob_spans, result.notes)
    result.doc_type = classify(text, rules)
    return result
