"""The filing rule, the product's first promise: never misfile. Box and hub both call `decide`.

A document is filed to a patient only when its identifiers agree with the patient record:

- an MRN that names a known patient, confirmed by that patient's own name or date of birth
  found on the document (labelled, or anywhere in its text: either name order, any case, one
  OCR error a word), or by a cover sheet made for that MRN, with nothing read clearly that
  contradicts the record;
- when the MRN itself is in doubt (read with low OCR confidence, or matched only once OCR's
  letter/digit confusions are folded), the document must also carry the patient's name and
  either their date of birth or a name nobody else on the register has; and when another
  patient of the same name has an MRN one character away, name and date of birth both.

An identifier read below the confidence threshold is "uncertain": it can confirm what the
others already say, never create a patient or contradict one alone. A new MRN creates a patient
only when the clinic allows it (`new_patients`: `confident`), all three identifiers were read
clearly, and nobody on the register is one character or one digit away from them. Any doubt
goes to review with a reason that names what was read and the candidate patient(s), and so
does a document with an unreadable page or no text at all, whatever its identifiers say.

The caller injects how patients are found (its own database, its own clinic); the rule and
every comparison it makes live here only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rapidfuzz.distance import OSA, Levenshtein

from .dates import find_dates, parse_date
from .extract import (
    DEFAULT_TYPE_RULES,
    Extraction,
    Found,
    PersonName,
    extract,
    fold,
    fold_mrn,
    normalise_mrn,
    parse_name,
)
from .pages import PageResult
from .separators import Separator

NEW_PATIENT_POLICIES = ("never", "confident")
MRN_CHECKS = ("none", "luhn", "mod11")
CONFIDENT = 80.0


class Patients(Protocol):
    """How the caller's patients are found (the box's database, or one clinic's at the hub)."""

    def by_mrn(self, mrn: str) -> Any | None:
        """The patient with exactly this MRN."""

    def by_dobs(self, dobs: Sequence[dt.date]) -> Sequence[Any]:
        """Patients born on any of `dobs`."""

    def index(self) -> Sequence[tuple[Any, str, str, str]]:
        """Every patient as (id, MRN, last name, first name): for the near-miss guard and for
        telling whether a name is unique on the register."""

    def by_ids(self, ids: Sequence[Any]) -> Sequence[Any]:
        """The patients with these ids."""


@dataclass(frozen=True)
class Rules:
    """How strict the rule is: the date order, who may create a patient, the MRN check digit,
    and the OCR confidence below which an identifier is uncertain."""

    order: str = "DMY"
    new_patients: str = "confident"
    mrn_check: str = "none"
    confident: float = CONFIDENT


@dataclass
class Decision:
    """What to do with one document: `filed` (to `patient`, or to a new patient) or `needs_review`.

    `read` is what was read (for the review page), `candidates` the patients a person should
    look at, and `notes` which identifiers confirmed the filing and where they were found.
    """

    status: str
    reason: str | None = None
    patient: Any = None
    new_patient: dict[str, Any] | None = None
    candidates: list[Any] = field(default_factory=list)
    read: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reading:
    """What was read from one document: the extraction, its cover sheet, and what went wrong."""

    extraction: Extraction
    separator: Separator | None = None
    page_problems: Sequence[str] = field(default_factory=tuple)
    has_text: bool = True
    blank_pages: int = 0


def read_pages(
    pages: Sequence[PageResult],
    separator: Separator | None,
    order: str,
    rules: dict[str, list[str]] = DEFAULT_TYPE_RULES,
    problems: Sequence[str] = (),
) -> Reading:
    """The reading of one document made of `pages`: its text joined (blank pages left out), its
    OCR words placed in that text, its page problems kept after `problems` (the scan's own)."""
    texts: list[str] = []
    words: list[tuple[int, ...]] = []
    offset = 0
    read = [page for page in pages if page.text_source != "blank"]
    for page in read:
        if texts:
            offset += 2
        texts.append(page.text)
        words.extend((start + offset, end + offset, *rest) for start, end, *rest in page.words)
        offset += len(page.text)
    text = "\n\n".join(texts)
    return Reading(
        extraction=extract(text, order, rules, words),
        separator=separator,
        page_problems=(*problems, *(page.problem for page in pages if page.problem)),
        has_text=bool(text.strip()),
        blank_pages=len(pages) - len(read),
    )


# -- comparisons --------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+(?:['’\-][^\W_]+)*", fold(text))


def _word_close(read: str, record: str) -> bool:
    """The same word, allowing one OCR error in a word of four letters or more."""
    if read == record:
        return True
    return min(len(read), len(record)) >= 4 and Levenshtein.distance(read, record) <= 1


def _same_person_name(read: PersonName, last_name: str, first_name: str) -> bool:
    last, first = _words(last_name), _words(first_name)
    read_last, read_first = _words(read.last), _words(read.first)
    if not last or not first or not read_last or not read_first or len(read_last) != len(last):
        return False
    return all(map(_word_close, read_last, last)) and _word_close(read_first[0], first[0])


def name_matches(name: PersonName, patient: Any) -> bool:
    """True when `name` is the patient's, ignoring case and accents, allowing one OCR error a word."""
    return _same_person_name(name, patient.last_name, patient.first_name)


def name_exactly(name: PersonName, patient: Any) -> bool:
    """True when `name` is the patient's, ignoring only case, accents and spacing."""
    return name.key == PersonName(last=patient.last_name, first=patient.first_name).key


def _name_in_text(text: str, patient: Any) -> bool:
    """The patient's surname and first name next to each other anywhere in the text, in either order."""
    words = _words(text)
    last, first = _words(patient.last_name), _words(patient.first_name)
    if not last or not first:
        return False
    span = len(last)
    for i in range(len(words) - span + 1):
        if not all(map(_word_close, words[i : i + span], last)):
            continue
        around = words[max(0, i - 3) : i] + words[i + span : i + span + 3]
        if any(_word_close(word, first[0]) for word in around):
            return True
    return False


def _dob_in_text(text: str, dob: dt.date, order: str) -> bool:
    return any(found.value == dob for found in find_dates(text, order))


def _near_dobs(dob: dt.date) -> list[dt.date]:
    """Dates one digit away from `dob` (as written YYYYMMDD), or with day and month swapped."""
    digits = dob.strftime("%Y%m%d")
    found = {dob}
    for i in range(len(digits)):
        for d in "0123456789":
            candidate = digits[:i] + d + digits[i + 1 :]
            try:
                found.add(dt.datetime.strptime(candidate, "%Y%m%d").date())
            except ValueError:
                continue
    try:
        found.add(dob.replace(month=dob.day, day=dob.month))
    except ValueError:
        pass
    return sorted(found)


def _names_close(name: PersonName, patient: Any) -> bool:
    """A small edit distance between whole names: the same person misread, or a near twin."""
    read = " ".join(_words(name.last) + _words(name.first)[:1])
    record = " ".join(_words(patient.last_name) + _words(patient.first_name)[:1])
    return Levenshtein.distance(read, record) <= 2


def mrn_near(a: str, b: str) -> bool:
    """True when two different MRNs are one edit apart (a changed, missing, extra or swapped
    character) or equal once OCR's confusions are folded."""
    if a == b:
        return False
    return fold_mrn(a) == fold_mrn(b) or OSA.distance(normalise_mrn(a), normalise_mrn(b)) <= 1


def _near_patients(patients: Patients, mrn: str) -> list[Any]:
    ids = [pid for pid, known, _, _ in patients.index() if mrn_near(mrn, known)]
    return list(patients.by_ids(ids)) if ids else []


def _only_one_named(patients: Patients, name: PersonName) -> bool:
    """True when exactly one patient on the register has this name (one OCR error a word allowed)."""
    return sum(_same_person_name(name, last, first) for _, _, last, first in patients.index()) == 1


def check_digit_ok(mrn: str, scheme: str) -> bool:
    """The MRN's check digit holds under `scheme` (`none` accepts every MRN)."""
    if scheme == "none":
        return True
    if not mrn.isdigit() or len(mrn) < 2:
        return False
    digits = [int(ch) for ch in mrn]
    if scheme == "luhn":
        total = 0
        for i, d in enumerate(reversed(digits)):
            total += (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d
        return total % 10 == 0
    weights = range(len(digits), 1, -1)
    check = 11 - sum(d * w for d, w in zip(digits[:-1], weights, strict=True)) % 11
    if check == 10:
        return False
    return (0 if check == 11 else check) == digits[-1]


def _who(patient: Any) -> str:
    return f"{patient.last_name}, {patient.first_name} (MRN {patient.mrn}, born {patient.dob.isoformat()})"


# -- the rule -----------------------------------------------------------------------------------


def _review(reason: str, read: dict, candidates: Sequence[Any] = ()) -> Decision:
    if candidates:
        reason += "; candidate patient(s): " + "; ".join(_who(p) for p in candidates)
    return Decision(status="needs_review", reason=reason, read=read, candidates=list(candidates))


def _what_was_read(mrns: list[Found], names: list[Found], dobs: list[Found]) -> dict[str, Any]:
    return {
        "mrns": [{"value": f.value, "how": f.describe()} for f in mrns],
        "names": [{"value": f.value.display(), "how": f.describe()} for f in names],
        "dobs": [{"value": f.value.isoformat(), "how": f.describe()} for f in dobs],
    }


def _read_summary(read: dict) -> str:
    parts = [
        f"{kind} {', '.join(item['value'] for item in read[key])}"
        for kind, key in (("MRN", "mrns"), ("name", "names"), ("date of birth", "dobs"))
        if read[key]
    ]
    return "read: " + "; ".join(parts) if parts else "nothing identifying was read"


def _distinct_names(found: list[Found]) -> list[list[Found]]:
    """Name readings grouped so that OCR variants of one name (Allen/Alien) are one group."""
    groups: list[list[Found]] = []
    for item in found:
        for group in groups:
            head = group[0].value
            if _same_person_name(item.value, head.last, head.first):
                group.append(item)
                break
        else:
            groups.append([item])
    return groups


def _identifiers(extraction: Extraction, separator: Separator | None, order: str):
    mrns, names, dobs = list(extraction.mrn_reads), list(extraction.name_reads), list(extraction.dob_reads)
    if separator is not None and separator.mrn:
        mrns.insert(0, Found(normalise_mrn(separator.mrn), (0, 0), "cover sheet barcode"))
        if separator.name and (name := parse_name(separator.name)):
            names.insert(0, Found(name, (0, 0), "cover sheet barcode"))
        if separator.dob and (found := parse_date(separator.dob, order)):
            dobs.insert(0, Found(found.value, (0, 0), "cover sheet barcode"))
    if not mrns and extraction.nhs_numbers:
        mrns = [Found(number, (0, 0), "NHS number (check digit valid)") for number in extraction.nhs_numbers]
    return mrns, names, dobs


def _by_identifiers(reading: Reading, patients: Patients, rules: Rules) -> Decision:
    extraction = reading.extraction
    mrn_reads, name_reads, dob_reads = _identifiers(extraction, reading.separator, rules.order)
    read = _what_was_read(mrn_reads, name_reads, dob_reads)
    sure = rules.confident
    notes: list[str] = []

    checked = [f for f in mrn_reads if check_digit_ok(f.value, rules.mrn_check)]
    for f in mrn_reads:
        if f not in checked:
            notes.append(f"MRN {f.value} fails the {rules.mrn_check} check digit and was not used")
    groups: dict[str, list[Found]] = {}
    for f in checked:
        groups.setdefault(fold_mrn(f.value), []).append(f)
    clear = {key: group for key, group in groups.items() if any(f.certain(sure) for f in group)}
    if len(clear) > 1:
        values = ", ".join(group[0].value for group in clear.values())
        return _review(f"conflicting MRNs on the document: {values}; {_read_summary(read)}", read)
    if not clear and len(groups) > 1:
        values = ", ".join(group[0].value for group in groups.values())
        return _review(f"MRNs read unclearly and differently: {values}; {_read_summary(read)}", read)
    chosen = next(iter((clear or groups).values()), [])
    mrn_certain = bool(clear)
    for key, group in groups.items():
        if chosen and key != fold_mrn(chosen[0].value):
            notes.append(f"MRN {group[0].value} read with low OCR confidence was not used")

    name_groups = _distinct_names(name_reads)
    clear_names = [g for g in name_groups if any(f.certain(sure) for f in g)]
    clear_dobs = sorted({f.value for f in dob_reads if f.certain(sure)})

    if not chosen:
        candidates = []
        if len(clear_names) == 1 and len(clear_dobs) == 1:
            candidates = [p for p in patients.by_dobs(clear_dobs) if name_matches(clear_names[0][0].value, p)]
        return _review(f"no MRN found; {_read_summary(read)}", read, candidates)

    cover_sheet = any(f.label == "cover sheet barcode" for f in chosen)
    patient, how = None, ""
    for f in sorted(chosen, key=lambda f: not f.certain(sure)):
        patient = patients.by_mrn(f.value)
        if patient is not None:
            how = f"MRN {f.value} ({f.describe()})"
            mrn_certain = mrn_certain and f.certain(sure)
            break
    near = _near_patients(patients, chosen[0].value) if patient is None else []
    if patient is None:
        folded = [p for p in near if fold_mrn(p.mrn) == fold_mrn(chosen[0].value)]
        if len(folded) == 1:
            patient, mrn_certain = folded[0], False
            how = f"MRN {chosen[0].value} read as {patient.mrn} once OCR's letter/digit confusions are folded"
    if patient is not None:
        return _confirm(
            reading, patient, how, mrn_certain, cover_sheet, name_groups, dob_reads, patients, rules, read, notes
        )
    return _new_patient(
        chosen, mrn_certain, clear_names, name_groups, clear_dobs, dob_reads, near, patients, rules, read, notes
    )


def _confirm(
    reading, patient, how, mrn_certain, cover_sheet, name_groups, dob_reads, patients, rules, read, notes
) -> Decision:
    """An MRN names `patient`: file when the record's own name or date of birth confirms it."""
    sure, text = rules.confident, reading.extraction.text
    problems, confirmed = [], []
    name_ok = dob_ok = False
    for group in name_groups:
        best = max(group, key=lambda f: f.confidence if f.confidence is not None else 101)
        if name_matches(best.value, patient):
            name_ok = True
            confirmed.append(f"name {best.value.display()} ({best.describe()})")
        elif best.certain(sure):
            problems.append(f"name {best.value.display()} ({best.describe()}) does not match the record")
        else:
            notes.append(f"name {best.value.display()} read with low OCR confidence was not used")
    for f in dob_reads:
        if f.value == patient.dob:
            if not dob_ok:
                confirmed.append(f"date of birth {f.value.isoformat()} ({f.describe()})")
            dob_ok = True
        elif f.certain(sure):
            problems.append(f"date of birth {f.value.isoformat()} ({f.describe()}) does not match the record")
        else:
            notes.append(f"date of birth {f.value.isoformat()} read with low OCR confidence was not used")
    if problems:
        return _review(
            f"{how} names {patient.last_name}, {patient.first_name}, but " + "; ".join(problems), read, [patient]
        )
    if not name_ok and _name_in_text(text, patient):
        name_ok = True
        confirmed.append(f"name {patient.last_name}, {patient.first_name} (found in the text)")
    if not dob_ok and _dob_in_text(text, patient.dob, rules.order):
        dob_ok = True
        confirmed.append(f"date of birth {patient.dob.isoformat()} (found in the text)")
    twins = [
        p
        for p in _near_patients(patients, patient.mrn)
        if name_exactly(PersonName(patient.last_name, patient.first_name), p)
    ]
    if cover_sheet and mrn_certain and not twins:
        confirmed.append("cover sheet made for this MRN")
    strong = not mrn_certain or bool(twins)
    # An MRN in doubt confirms a patient the name already names: nobody else on the register has it.
    named = name_ok and not twins and _only_one_named(patients, PersonName(patient.last_name, patient.first_name))
    if strong and named and not (name_ok and dob_ok):
        confirmed.append("no other patient on the register has this name")
    enough = ((name_ok and dob_ok) or named) if strong else (name_ok or dob_ok or (cover_sheet and mrn_certain))
    if not enough:
        why = (
            "the MRN was read with doubt"
            if not mrn_certain
            else "another patient of the same name has an MRN one character away"
            if twins
            else ""
        )
        missing = " and ".join(label for label, ok in (("name", name_ok), ("date of birth", dob_ok)) if not ok)
        need = (
            f"; {why}, so name and date of birth must both confirm it (or a name no other patient has)"
            if strong
            else ""
        )
        return _review(
            f"{how} names {patient.last_name}, {patient.first_name}, but no {missing} on the document "
            f"confirms it{need}",
            read,
            [patient, *twins],
        )
    return Decision(
        status="filed",
        patient=patient,
        read=read,
        notes=[f"filed by {how}; confirmed by " + "; ".join(confirmed), *notes],
    )


def _new_patient(
    chosen, mrn_certain, clear_names, name_groups, clear_dobs, dob_reads, near, patients, rules, read, notes
) -> Decision:
    """An MRN nobody has: create the patient only when the clinic allows it and nothing is in doubt."""
    mrn = chosen[0].value
    if near:
        return _review(
            f"new MRN {mrn} is one character away from a patient on the register; {_read_summary(read)}", read, near
        )
    if rules.new_patients == "never":
        return _review(
            f"MRN {mrn} is not on the patient register (new patients come from the register or "
            f"staff); {_read_summary(read)}",
            read,
        )
    if not mrn_certain:
        return _review(f"new MRN {mrn} was read with low OCR confidence; {_read_summary(read)}", read)
    if len(clear_names) != 1 or len(name_groups) != 1 or len(clear_dobs) != 1 or len({f.value for f in dob_reads}) != 1:
        missing = [
            label for label, ok in (("name", len(clear_names) == 1), ("date of birth", len(clear_dobs) == 1)) if not ok
        ]
        what = f"no clear {' or '.join(missing)}" if missing else "identifiers that disagree"
        return _review(f"new MRN {mrn} but {what} read to create the patient; {_read_summary(read)}", read)
    name, dob = clear_names[0][0].value, clear_dobs[0]
    lookalikes = [p for p in patients.by_dobs(_near_dobs(dob)) if _names_close(name, p)]
    if lookalikes:
        return _review(
            f"new MRN {mrn}, but a patient with a name and date of birth this close is on the register; "
            f"{_read_summary(read)}",
            read,
            lookalikes,
        )
    return Decision(
        status="filed",
        new_patient={"mrn": mrn, "last_name": name.last, "first_name": name.first, "dob": dob},
        read=read,
        notes=[
            f"new patient from MRN {mrn} ({chosen[0].describe()}), name {name.display()} and date of birth "
            f"{dob.isoformat()}, all read clearly; nobody on the register is near them",
            *notes,
        ],
    )


def decide(reading: Reading, patients: Patients, rules: Rules) -> Decision:
    """File, create-and-file, or send to review, with the reason and what confirmed it."""
    decision = _by_identifiers(reading, patients, rules)
    problems = list(reading.page_problems)
    if not reading.has_text:
        problems.append("no text could be read from the document")
    if reading.blank_pages:
        decision.notes.append(f"{reading.blank_pages} blank page(s) (duplex backs) kept but not read")
    if problems:
        reason = "; ".join(([decision.reason] if decision.reason else []) + problems)
        return Decision(
            status="needs_review",
            reason=reason,
            read=decision.read,
            candidates=decision.candidates,
            notes=decision.notes,
        )
    return decision
