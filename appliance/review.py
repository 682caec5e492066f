"""Reviewing a document as one decision: what the box read beside the candidate record, the
suggested patients, a new patient pre-filled from the reading, and the place in the queue.

Everything here reads what ingest stored on the document (`Document.extracted`: the extraction,
`read` with how each identifier was found, `filing_notes` and `candidates`); nothing is re-read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.ingest.extract import PersonName, normalise_mrn
from core.ingest.filing import name_matches

from .models import Document, Patient


@dataclass(frozen=True)
class Reading:
    """One value the box read, and how (e.g. 'labelled, OCR confidence 91')."""

    value: str
    how: str = ""


@dataclass(frozen=True)
class Row:
    """One identifier: what was read, what the record says, and whether they agree.
    `state` is `same`, `differs` or `not_read`."""

    label: str
    read: tuple[Reading, ...]
    record: str
    state: str


@dataclass(frozen=True)
class Suggestion:
    patient: Patient
    why: str
    rows: tuple[Row, ...]

    @property
    def agrees(self) -> int:
        """How many identifiers agree with the record."""
        return sum(row.state == "same" for row in self.rows)


@dataclass(frozen=True)
class Position:
    """Where a document stands in the review queue (1-based `index`; 0 when it is not in it)."""

    index: int
    total: int
    previous_id: int | None
    next_id: int | None


@dataclass
class Panel:
    """Everything the review page shows beside the pages."""

    read: dict[str, tuple[Reading, ...]]
    doc_date: str | None
    doc_type: str | None
    notes: list[str]
    suggestions: list[Suggestion]
    new_patient: dict[str, str]
    position: Position = field(default_factory=lambda: Position(0, 0, None, None))


def _extracted(document: Document) -> dict:
    return document.extracted if isinstance(document.extracted, dict) else {}


def what_was_read(document: Document) -> dict[str, tuple[Reading, ...]]:
    """The MRNs, names and dates of birth read from the document, each with how it was found."""
    extracted = _extracted(document)
    read = extracted.get("read") if isinstance(extracted.get("read"), dict) else {}
    found: dict[str, tuple[Reading, ...]] = {}
    for key in ("mrns", "names", "dobs"):
        detailed = [Reading(str(item["value"]), str(item.get("how", ""))) for item in read.get(key) or []]
        plain = [Reading(str(value)) for value in extracted.get(key) or []]
        unique: dict[str, Reading] = {}
        for reading in detailed + plain:
            unique.setdefault(reading.value, reading)
        found[key] = tuple(unique.values())
    return found


def _split_name(display: str) -> PersonName:
    last, _, first = display.partition(",")
    return PersonName(last=last.strip(), first=first.strip())


def compare(read: dict[str, tuple[Reading, ...]], patient: Patient) -> tuple[Row, ...]:
    """Field by field: the document's MRN, name and date of birth against the patient record."""
    record_mrn = normalise_mrn(patient.mrn)

    def row(label: str, values: tuple[Reading, ...], record: str, same) -> Row:
        if not values:
            return Row(label, values, record, "not_read")
        return Row(label, values, record, "same" if any(same(r.value) for r in values) else "differs")

    return (
        row("MRN", read["mrns"], patient.mrn, lambda value: normalise_mrn(value) == record_mrn),
        row("Name", read["names"], patient.display_name, lambda value: name_matches(_split_name(value), patient)),
        row("Date of birth", read["dobs"], patient.dob.isoformat(), lambda value: value == patient.dob.isoformat()),
    )


def suggestions(document: Document, read: dict[str, tuple[Reading, ...]] | None = None) -> list[Suggestion]:
    """The patients to look at first: the filing rule's candidates, then anyone whose MRN is one
    the box read (a patient added since, e.g. by a register import), best agreement first."""
    read = read if read is not None else what_was_read(document)
    candidate_ids = [pid for pid in _extracted(document).get("candidates") or [] if isinstance(pid, int)]
    found: dict[int, tuple[Patient, str]] = {}
    for patient in Patient.select().where(Patient.id.in_(candidate_ids)):
        found[patient.id] = (patient, "candidate of the filing rule")
    mrns = [r.value for r in read["mrns"]]
    if mrns:
        for patient in Patient.select().where(Patient.mrn.in_(mrns)):
            found.setdefault(patient.id, (patient, "the MRN read matches this record"))
    ordered = sorted(
        found.values(),
        key=lambda pair: candidate_ids.index(pair[0].id) if pair[0].id in candidate_ids else len(candidate_ids),
    )
    made = [Suggestion(patient, why, compare(read, patient)) for patient, why in ordered]
    return sorted(made, key=lambda s: -s.agrees)


def new_patient_fields(read: dict[str, tuple[Reading, ...]]) -> dict[str, str]:
    """The "New patient" form pre-filled with the first MRN, name and date of birth read."""
    fields = {"mrn": "", "last_name": "", "first_name": "", "dob": ""}
    if read["mrns"]:
        fields["mrn"] = read["mrns"][0].value
    if read["names"]:
        name = _split_name(read["names"][0].value)
        fields.update(last_name=name.last, first_name=name.first)
    if read["dobs"]:
        fields["dob"] = read["dobs"][0].value
    return fields


def queue():
    """The review queue, oldest first (the order of the review list)."""
    return Document.select().where(Document.status == "needs_review").order_by(Document.created_at, Document.id)


def position(document: Document) -> Position:
    """The document's place in the queue, with its neighbours."""
    ids = list(queue().select(Document.id).scalars())
    if document.id not in ids:
        return Position(0, len(ids), None, ids[0] if ids else None)
    at = ids.index(document.id)
    return Position(at + 1, len(ids), ids[at - 1] if at > 0 else None, ids[at + 1] if at + 1 < len(ids) else None)


def next_after(document: Document) -> int | None:
    """The document to review once `document` is dealt with: the next one in the queue after it,
    else the first one left, else None."""
    rows = list(queue().select(Document.id, Document.created_at).tuples())
    later = [doc_id for doc_id, created in rows if (created, doc_id) > (document.created_at, document.id)]
    remaining = [doc_id for doc_id, _ in rows if doc_id != document.id]
    return later[0] if later else (remaining[0] if remaining else None)


def panel(document: Document) -> Panel:
    """The review panel of a document."""
    extracted = _extracted(document)
    read = what_was_read(document)
    return Panel(
        read=read,
        doc_date=extracted.get("doc_date"),
        doc_type=extracted.get("doc_type"),
        notes=[str(note) for note in (extracted.get("notes") or []) + (extracted.get("filing_notes") or [])],
        suggestions=suggestions(document, read),
        new_patient=new_patient_fields(read),
        position=position(document),
    )
