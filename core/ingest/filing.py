"""The filing rule, the product's first promise: never misfile. Box and hub both call `decide`.

A document is filed to a patient only when its identifiers agree with the patient record:
the MRN plus at least one of name and date of birth (or a cover sheet made for that MRN),
with nothing read that contradicts the record. A new MRN creates a patient only when MRN,
name and date of birth were all read. Any doubt goes to review with the reason, and so does
a document with an unreadable page or no text at all, whatever its identifiers say.

The caller injects how patients are found (its own database, its own clinic); the rule and
every comparison it makes (names without case or accents) live here only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .dates import parse_date
from .extract import DEFAULT_TYPE_RULES, Extraction, PersonName, extract, normalise_mrn, parse_name
from .pages import PageResult
from .separators import Separator

FindByMrn = Callable[[str], Any]
FindByDob = Callable[[dt.date], Sequence[Any]]


@dataclass
class Decision:
    """What to do with one document: `filed` (to `patient`, or to a new patient) or `needs_review`."""

    status: str
    reason: str | None = None
    patient: Any = None
    new_patient: dict[str, Any] | None = None


@dataclass(frozen=True)
class Reading:
    """What was read from one document: the extraction, its cover sheet, and what went wrong."""

    extraction: Extraction
    separator: Separator | None = None
    page_problems: Sequence[str] = field(default_factory=tuple)
    has_text: bool = True


def read_pages(
    pages: Sequence[PageResult],
    separator: Separator | None,
    order: str,
    rules: dict[str, list[str]] = DEFAULT_TYPE_RULES,
    problems: Sequence[str] = (),
) -> Reading:
    """The reading of one document made of `pages`: its text joined, its page problems kept after
    `problems` (what is wrong with the scan as a whole)."""
    text = "\n\n".join(page.text for page in pages)
    return Reading(
        extraction=extract(text, order, rules),
        separator=separator,
        page_problems=(*problems, *(page.problem for page in pages if page.problem)),
        has_text=bool(text.strip()),
    )


def _review(reason: str) -> Decision:
    return Decision(status="needs_review", reason=reason)


def _dedupe(values, key=lambda value: value):
    return list({key(value): value for value in values}.values())


def _identifiers(extraction: Extraction, separator: Separator | None, order: str):
    mrns, names, dobs = list(extraction.mrns), list(extraction.names), list(extraction.dobs)
    if separator is not None and separator.mrn:
        mrns.insert(0, normalise_mrn(separator.mrn))
        if separator.name and (name := parse_name(separator.name)):
            names.insert(0, name)
        if separator.dob and (found := parse_date(separator.dob, order)):
            dobs.insert(0, found.value)
    return _dedupe(mrns), _dedupe(names, lambda n: n.key), _dedupe(dobs)


def name_matches(name: PersonName, patient: Any) -> bool:
    """True when `name` is the patient's name, ignoring case, accents and spacing."""
    return name.key == PersonName(last=patient.last_name, first=patient.first_name).key


def _by_identifiers(reading: Reading, find_by_mrn: FindByMrn, find_by_dob: FindByDob, order: str) -> Decision:
    mrns, names, dobs = _identifiers(reading.extraction, reading.separator, order)
    if len(mrns) > 1:
        return _review(f"conflicting MRNs on the document: {', '.join(mrns)}")
    if len(names) > 1:
        return _review(f"more than one patient name on the document: {'; '.join(n.display() for n in names)}")
    if len(dobs) > 1:
        return _review(f"more than one date of birth on the document: {', '.join(d.isoformat() for d in dobs)}")
    name = names[0] if names else None
    dob = dobs[0] if dobs else None
    if not mrns:
        read = [label for label, value in (("name", name), ("date of birth", dob)) if value]
        suffix = f" (read: {' and '.join(read)})" if read else ""
        return _review(f"no MRN found{suffix}")
    mrn = mrns[0]
    patient = find_by_mrn(mrn)
    if patient is not None:
        problems = []
        if name is not None and not name_matches(name, patient):
            problems.append(f"name {name.display()} does not match the record for MRN {mrn}")
        if dob is not None and dob != patient.dob:
            problems.append(f"date of birth {dob.isoformat()} does not match the record for MRN {mrn}")
        if problems:
            return _review("; ".join(problems))
        cover_sheet = reading.separator is not None and reading.separator.mrn is not None
        if name is None and dob is None and not cover_sheet:
            return _review(f"only the MRN {mrn} was read; no name or date of birth to confirm it")
        return Decision(status="filed", patient=patient)
    missing = [label for label, value in (("name", name), ("date of birth", dob)) if value is None]
    if missing or name is None or dob is None:
        return _review(f"new MRN {mrn} but no {' or '.join(missing)} read to create the patient")
    lookalikes = [p for p in find_by_dob(dob) if name_matches(name, p)]
    if lookalikes:
        others = ", ".join(p.mrn for p in lookalikes)
        return _review(f"new MRN {mrn}, but a patient with the same name and date of birth has MRN {others}")
    return Decision(
        status="filed",
        new_patient={"mrn": mrn, "last_name": name.last, "first_name": name.first, "dob": dob},
    )


def decide(reading: Reading, find_by_mrn: FindByMrn, find_by_dob: FindByDob, order: str) -> Decision:
    """File, create-and-file, or send to review, with the reason (`order`: the date order, DMY or MDY)."""
    decision = _by_identifiers(reading, find_by_mrn, find_by_dob, order)
    problems = list(reading.page_problems)
    if not reading.has_text:
        problems.append("no text could be read from the document")
    if problems:
        reason = "; ".join(([decision.reason] if decision.reason else []) + problems)
        return _review(reason)
    return decision
