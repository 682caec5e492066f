"""Which pages are separator or cover sheets, and how they split a scan into documents.

A separator page carries a barcode that says so: a patch-T style code ("PATCHT", "PATCH T",
"SEPARATOR") splits without naming a patient; a patient cover sheet holds the MRN
("MRN:12345", "MRN=12345", "DIGIFORT|MRN=12345|NAME=DOE, JANE|DOB=1975-03-14", or JSON
{"mrn": ...}) and assigns the pages after it. A barcode that is just an ID (digits and
letters, nothing else) counts only on a page with almost no other text, so a product code
printed on a lab form never splits it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

PATCH_RE = re.compile(r"^\s*(PATCH[\s_-]?(T|II|2|3)|SEPARATOR|DOCUMENT[\s_-]?SEPARATOR)\s*$", re.I)
PAIR_RE = re.compile(r"(MRN|NAME|DOB|TYPE)\s*[:=]\s*([^|;\n]+)", re.I)
BARE_ID_RE = re.compile(r"^[A-Z0-9][A-Z0-9\-]{3,19}$", re.I)
COVER_PAGE_MAX_WORDS = 40


@dataclass(frozen=True)
class Separator:
    mrn: str | None = None
    name: str | None = None
    dob: str | None = None
    doc_type: str | None = None
    payload: str = ""


def parse_payload(payload: str, page_words: int) -> Separator | None:
    """A Separator when the barcode text marks a separator or cover sheet, else None."""
    text = payload.strip()
    if PATCH_RE.match(text):
        return Separator(payload=text)
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("mrn"):
            return Separator(
                mrn=str(data["mrn"]),
                name=data.get("name"),
                dob=data.get("dob"),
                doc_type=data.get("type"),
                payload=text,
            )
    pairs = {key.lower(): value.strip() for key, value in PAIR_RE.findall(text)}
    if pairs.get("mrn"):
        return Separator(
            mrn=pairs["mrn"], name=pairs.get("name"), dob=pairs.get("dob"), doc_type=pairs.get("type"), payload=text
        )
    if BARE_ID_RE.match(text) and any(ch.isdigit() for ch in text) and page_words <= COVER_PAGE_MAX_WORDS:
        return Separator(mrn=text, payload=text)
    return None


def page_separator(barcodes: list[str], text: str) -> Separator | None:
    """The separator this page is, if any of its barcodes marks one."""
    words = len(re.findall(r"\w{2,}", text))
    for payload in barcodes:
        found = parse_payload(payload, words)
        if found is not None:
            return found
    return None


@dataclass
class Segment:
    """A run of pages that forms one document, with the separator that opened it (if any)."""

    pages: list[int] = field(default_factory=list)
    separator: Separator | None = None


def split(separators: list[Separator | None]) -> list[Segment]:
    """Cut a scan's pages at separator pages; separator pages belong to no document.

    A scan with no separators is one document. A separator followed by no pages yields nothing.
    """
    segments: list[Segment] = []
    current = Segment()
    for index, separator in enumerate(separators):
        if separator is None:
            current.pages.append(index)
            continue
        if current.pages:
            segments.append(current)
        current = Segment(separator=separator)
    if current.pages:
        segments.append(current)
    return segments
