"""The filing rule, the product's first promise: never misfile.

A document is filed to a patient only when its identifiers agree with the patient record:
the MRN plus at least one of name and date of birth (or a cover sheet made for that MRN),
with nothing read that contradicts the record. A new MRN creates a patient only when MRN,
name and date of birth were all read. Any doubt goes to review with the reason.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from .dates import parse_date
from .extract import Extraction, PersonName, normalise_mrn, parse_name
from .separators import Separator


@dataclass
class Decision:
    status: str
    reason: str | None = None
    patient: object | None = None
    new_patient: dict | None = None


def _review(reason: str) -> Decision:
    return Decision(status="needs_review", reason=reason)


def _identifiers(extraction: Extraction, separator: Separator | None, order: str):
    mrns, names, dobs = list(extraction.mrns), list(extraction.names), list(extraction.dobs)
    if separator is not None and separator.mrn:
        mrns.insert(0, normalise_mrn(separator.mrn))
        if separator.name and (name := parse_name(separator.name)):
            names.insert(0, name)
        if separator.dob and (found := parse_date(separator.dob, order)):
            dobs.insert(0, found.value)
    return _dedupe(mrns), _dedupe(names, lambda n: n.key), _dedupe(dobs)


def _dedupe(values, key=lambda value: value):
    return list({key(value): value for value in values}.values())


def _names_agree(name: PersonName, patient) -> bool:
    return name.key == PersonName(last=patient.last_name, first=patient.first_name).key


def decide(
    extraction: Extraction,
    separator: Separator | None,
    find_by_mrn: Callable[[str], object | None],
    find_by_name_dob: Callable[[PersonName, dt.date], list],
    order: str,
) -> Decision:
    """File, create-and-file, or send to review, with the reason."""
    mrns, names, dobs = _identifiers(extraction, separator, order)
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
        if name is not None and not _names_agree(name, patient):
            problems.append(f"name {name.display()} does not match the record for MRN {mrn}")
        if dob is not None and dob != patient.dob:
            problems.append(f"date of birth {dob.isoformat()} does not match the record for MRN {mrn}")
        if problems:
            return _review("; ".join(problems))
        cover_sheet = separator is not None and separator.mrn is not None
        if name is None and dob is None and not cover_sheet:
            return _review(f"only the MRN {mrn} was read; no name or date of birth to confirm it")
        return Decision(status="filed", patient=patient)
    missing = [label for label, value in (("name", name), ("date of birth", dob)) if value is None]
    if missing:
        return _review(f"new MRN {mrn} but no {' or '.join(missing)} read to create the patient")
    lookalikes = find_by_name_dob(name, dob)
    if lookalikes:
        others = ", ".join(p.mrn for p in lookalikes)
        return _review(f"new MRN {mrn}, but a patient with the same name and date of birth has MRN {others}")
    return Decision(
        status="filed",
        new_patient={"mrn": mrn, "last_name": name.last, "first_name": name.first, "dob": dob},
    )
