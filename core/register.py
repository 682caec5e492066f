"""Reading a patient register file: the clinic's own patient list from its practice-management system.

A CSV export (`mrn,last_name,first_name,dob`, header required, UTF-8, dates ISO or in the
configured date order) or FHIR R4 `Patient` resources (a Bundle in JSON, or NDJSON, one resource
a line), read with the `fhir.resources` models (their R4B release, which is R4's Patient). Each
row keeps its line number; a row that cannot be used is refused with the reason. The box and
the hub each upsert the rows into their own tables.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from typing import Any

from .ingest.dates import parse_date
from .ingest.extract import normalise_mrn

CSV_COLUMNS = ("mrn", "last_name", "first_name", "dob")
MR_TYPE = "MR"  # HL7 v2 identifier type "medical record number"


class RegisterError(ValueError):
    """The file cannot be read as a register at all (no header, not CSV or FHIR)."""


@dataclass(frozen=True)
class Row:
    """One patient as the file gives it, with the line (or resource) it came from."""

    line: int
    mrn: str
    last_name: str
    first_name: str
    dob: dt.date


@dataclass
class ImportReport:
    """What an import did (or, for a preview, would do), with line numbers."""

    added: list[Row] = field(default_factory=list)
    updated: list[tuple[Row, dict[str, Any]]] = field(default_factory=list)
    unchanged: list[Row] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.refused)} refused"
        )


def _date(raw: str, order: str) -> dt.date | None:
    raw = raw.strip()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        found = parse_date(raw, order)
        return found.value if found is not None and found.end - found.start == len(raw) else None


def _check(
    line: int,
    mrn: str,
    last: str,
    first: str,
    dob: dt.date | None,
    raw_dob: str,
    seen: dict[str, int],
    refused: list[tuple[int, str]],
) -> Row | None:
    if not mrn:
        refused.append((line, "no MRN"))
        return None
    if mrn in seen:
        refused.append((line, f"MRN {mrn} appears again (first on line {seen[mrn]})"))
        return None
    seen[mrn] = line
    if not last or not first:
        refused.append((line, f"MRN {mrn}: last and first name are both required"))
        return None
    if dob is None:
        refused.append((line, f"MRN {mrn}: date of birth {raw_dob!r} is not a date"))
        return None
    return Row(line, mrn, last, first, dob)


def read_csv(data: bytes, order: str) -> tuple[list[Row], list[tuple[int, str]]]:
    """Rows and refusals from a CSV export."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RegisterError("the CSV file is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in CSV_COLUMNS if name not in header]
    if missing:
        raise RegisterError(f"the CSV header must name {', '.join(CSV_COLUMNS)}; missing: {', '.join(missing)}")
    reader.fieldnames = header
    rows: list[Row] = []
    refused: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        values = {key: (record.get(key) or "").strip() for key in CSV_COLUMNS}
        row = _check(
            line,
            normalise_mrn(values["mrn"]),
            values["last_name"],
            values["first_name"],
            _date(values["dob"], order),
            values["dob"],
            seen,
            refused,
        )
        if row is not None:
            rows.append(row)
    return rows, refused


def _mrn_of(patient: Any, mrn_system: str) -> str:
    """The MRN among a FHIR Patient's identifiers: the one whose system is `mrn_system`, else the
    one typed MR, else the only identifier there is."""
    identifiers = [i for i in (patient.identifier or []) if i.value]
    if mrn_system:
        chosen = [i for i in identifiers if i.system == mrn_system]
    else:
        chosen = [i for i in identifiers if i.type and any(c.code == MR_TYPE for c in (i.type.coding or []))]
        if not chosen and len(identifiers) == 1:
            chosen = identifiers
    return normalise_mrn(chosen[0].value) if chosen else ""


def read_fhir(data: bytes, mrn_system: str) -> tuple[list[Row], list[tuple[int, str]]]:
    """Rows and refusals from a FHIR Bundle (JSON) or NDJSON of Patient resources."""
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.patient import Patient as FhirPatient
    from pydantic import ValidationError

    text = data.decode("utf-8-sig", errors="replace").strip()
    resources: list[tuple[int, Any]] = []
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, dict) and whole.get("resourceType") == "Bundle":
        entries = whole.get("entry") or []
        resources = [(n, entry.get("resource")) for n, entry in enumerate(entries, start=1)]
        try:
            Bundle.model_validate({**whole, "entry": []})
        except ValidationError as error:
            raise RegisterError(f"not a FHIR Bundle: {error.errors()[0]['msg']}") from None
    elif isinstance(whole, dict):
        resources = [(1, whole)]
    else:
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    resources.append((n, json.loads(line)))
                except ValueError:
                    resources.append((n, None))
    rows: list[Row] = []
    refused: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for n, resource in resources:
        if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
            refused.append((n, "not a FHIR Patient resource"))
            continue
        try:
            patient = FhirPatient.model_validate(resource)
        except ValidationError as error:
            problem = error.errors()[0]
            refused.append((n, f"not a valid FHIR Patient: {'.'.join(map(str, problem['loc']))}: {problem['msg']}"))
            continue
        name = next(iter(patient.name or []), None)
        last = (name.family or "").strip() if name else ""
        first = ((name.given[0] if name and name.given else "") or "").strip()
        row = _check(
            n,
            _mrn_of(patient, mrn_system),
            last,
            first,
            patient.birthDate,
            str(resource.get("birthDate", "")),
            seen,
            refused,
        )
        if row is not None:
            rows.append(row)
    return rows, refused


def read_file(name: str, data: bytes, order: str, mrn_system: str) -> tuple[list[Row], list[tuple[int, str]]]:
    """Rows from a CSV or FHIR file, told apart by its first character."""
    start = data.lstrip()[:1]
    if start in (b"{", b"["):
        return read_fhir(data, mrn_system)
    if name.lower().endswith((".json", ".ndjson")):
        raise RegisterError("the file is named as JSON but does not hold JSON")
    return read_csv(data, order)


def compare(rows: list[Row], refused: list[tuple[int, str]], existing: dict[str, Any]) -> ImportReport:
    """What importing `rows` would change, given the patients that exist now, by MRN."""
    report = ImportReport(refused=list(refused))
    for row in rows:
        patient = existing.get(row.mrn)
        if patient is None:
            report.added.append(row)
            continue
        changes = {
            key: value
            for key, value in (("last_name", row.last_name), ("first_name", row.first_name), ("dob", row.dob))
            if getattr(patient, key) != value
        }
        if changes:
            report.updated.append((row, changes))
        else:
            report.unchanged.append(row)
    return report
