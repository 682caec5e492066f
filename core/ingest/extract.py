"""Read the identifiers (MRN, patient name, date of birth), document date and type from text."""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

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

_SEP = r"\s*[:#.\-]*\s*"
MRN_LABEL = re.compile(
    r"\b(?:M\.?\s?R\.?\s?N\.?|Medical\s+Record\s+(?:No\.?|Number|Num\.?|#)|Patient\s+(?:ID|Id|No\.?|Number)"
    r"|Record\s+(?:#|No\.?|Number)|Hospital\s+(?:No\.?|Number))" + r"\s*[:#.\-]*\s*"
    r"(?P<value>[A-Z0-9][A-Z0-9\-/]{2,24})",
    re.I,
)
NAME_LABEL = re.compile(r"\b(?:Patient(?:'s)?\s+Name|Patient|Name)\s*[:;]\s*(?P<value>[^\n]+)", re.I)
NAME_DISQUALIFIERS = re.compile(
    r"(doctor|dr\.?|physician|provider|referr\w*|guardian|parent|kin|emergency|contact|signature|staff|nurse|"
    r"clinician|witness|ordering|attending|consultant|practitioner|prescriber|pharmacist|author|user|file)\s*$",
    re.I,
)
NAME_STOP = re.compile(
    r"\s+(?:DOB|D\.O\.B|Date|MRN|M\.R\.N|Sex|Gender|Age|Patient|Record|Medical|Phone|Tel|Address|ID|Hospital|NHS|Born)\b.*$",
    re.I,
)
TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir"}
DOB_LABEL = re.compile(r"\b(?:D\.?\s?O\.?\s?B\.?|Date\s+of\s+Birth|Birth\s*date|Born)\s*[:\-]?\s*", re.I)
DOC_DATE_LABELS = [
    r"Date\s+of\s+(?:Service|Visit|Discharge|Report|Referral|Collection|Issue)",
    r"(?:Service|Visit|Discharge|Report|Referral|Collection|Invoice|Issue|Letter|Consent)\s+Date",
    r"Date\s+(?:Reported|Collected|Issued|Signed)",
    r"Collected|Reported|Issued",
    r"Date",
]


def normalise_mrn(raw: str) -> str:
    """The MRN as stored and compared: upper case, without spaces, dashes or slashes."""
    return re.sub(r"[\s\-/]", "", raw).upper()


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
    return (
        "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-"))
        if word.isupper() or word.islower()
        else word
    )


@dataclass
class Extraction:
    mrns: list[str] = field(default_factory=list)
    names: list[PersonName] = field(default_factory=list)
    dobs: list[dt.date] = field(default_factory=list)
    doc_date: dt.date | None = None
    doc_type: str = "other"
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "mrns": self.mrns,
            "names": [n.display() for n in self.names],
            "dobs": [d.isoformat() for d in self.dobs],
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


def _find_mrns(text: str) -> list[str]:
    values = []
    for match in MRN_LABEL.finditer(text):
        value = normalise_mrn(match["value"])
        if any(ch.isdigit() for ch in value):
            values.append(value)
    return _unique(values)


def _find_names(text: str) -> list[PersonName]:
    names = []
    for match in NAME_LABEL.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if NAME_DISQUALIFIERS.search(text[line_start : match.start()]):
            continue
        name = parse_name(match["value"])
        if name is not None:
            names.append(name)
    return _unique(names)


def _find_dobs(text: str, order: str, notes: list[str]) -> tuple[list[dt.date], list[tuple[int, int]]]:
    dobs, spans = [], []
    for match in DOB_LABEL.finditer(text):
        window = text[match.end() : match.end() + 40].split("\n")[0]
        dates = find_dates(window, order)
        if dates and dates[0].start <= 3:
            found = dates[0]
            dobs.append(found.value)
            spans.append((match.end() + found.start, match.end() + found.end))
            if found.note:
                notes.append(f"date of birth {found.note}")
    return _unique(dobs), spans


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


def classify(text: str, rules: dict[str, list[str]]) -> str:
    """The document type whose keywords score highest (title lines count triple), else 'other'."""
    lowered = text.lower()
    head = "\n".join(lowered.splitlines()[:6])
    best, best_score = "other", 0
    for doc_type, keywords in rules.items():
        score = 0
        for keyword in keywords:
            pattern = r"(?<!\w)" + re.escape(keyword.strip()) + (r"(?!\w)" if keyword[-1:].isalnum() else "")
            score += len(re.findall(pattern, lowered)) + 2 * len(re.findall(pattern, head))
        if score > best_score:
            best, best_score = doc_type, score
    return best


def extract(text: str, order: str, rules: dict[str, list[str]] = DEFAULT_TYPE_RULES) -> Extraction:
    """Everything the filing rule needs from a document's text."""
    result = Extraction()
    result.mrns = _find_mrns(text)
    result.names = _find_names(text)
    result.dobs, dob_spans = _find_dobs(text, order, result.notes)
    result.doc_date = _find_doc_date(text, order, dob_spans, result.notes)
    result.doc_type = classify(text, rules)
    return result
