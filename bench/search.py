"""Search benchmark: the web search endpoint against the same FTS5 query run directly in SQLite.

A box is built in a temporary data directory with N pages of generated clinic text (no OCR:
words, names, numbers, drugs and lab values drawn at random), spread over documents and
patients. Both sides then run the same fixed queries: the baseline is the floor on the FTS5
table alone (the 21 best rows by bm25, then a snippet for each; no joins) on a peewee
connection of its own that stays open (as a running box's worker keeps one open); the endpoint is
`GET /search?q=...` through Flask's test client, signed in as a staff user through the real
login form (session check, audit write, template render). Each repetition runs every query
on one side and then on the other, so that a machine getting busier or quieter meanwhile
weighs on both alike. The figures that matter are the endpoint's p95 (target 50 ms) and the
ratio to the baseline.

With --encrypted the box is encrypted (SQLCipher): the baseline is the same FTS5 query through
SQLCipher on the box's database, and the query on a plain SQLite copy of it is measured too
(what the cipher itself costs). With --both a plain box and an encrypted one are built alike
and measured alternately, and the ratios encrypted/plain are printed directly.

    .venv/bin/python bench/search.py [--pages N] [--repeat R] [--encrypted | --both] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import peewee as pw
import psutil
import sqlcipher3

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from appliance import at_rest, data_key
from appliance.box import box_key, open_box
from appliance.config import Config
from appliance.data_key import DataKey
from appliance.db import PRAGMAS, BoxDatabase, database
from appliance.migrations import FILL_SEARCH_TERMS
from appliance.search import RANK_WINDOW, RANKED, WINDOW_START, to_fts_query
from appliance.users import create_user
from core.highlight import HIT_END, HIT_START

TARGET_P95_MS = 50.0
OTHER_LOAD_WARNING = 0.1
PAGES_PER_DOCUMENT = 4
DOCUMENTS_PER_PATIENT = 5
UNASSIGNED_SHARE = 0.05
RARE_WORD_CHANCE = 2e-6
WORDS_PER_DRAW = 1_000_000
LIMIT = 21
STAFF_USER, STAFF_PASSWORD = "bench-staff", "bench-staff-password-1"
SEED = 20240314

QUERIES = (
    "patient",
    "phaeochromocytoma",
    "chest pain",
    "blood pressure",
    '"blood pressure"',
    "Okonkwo",
    "Okonkwo Amara",
    "metformin",
    "amoxicillin 500",
    "haemo*",
    "cardi*",
    "MRN 10332598",  # patient 42 (mrn_of)
    "2023",
    "discharge summary",
    "referral cardiology",
    "warfarin inr",
    "no further action",
    "diabetes mellitus type 2",
    "sarcoidosis biopsy",
    "diab*",
    "xylophonist",
)

SURNAMES = [
    "Smith",
    "Jones",
    "Williams",
    "Brown",
    "Taylor",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Johnson",
    "Roberts",
    "Robinson",
    "Thompson",
    "Wright",
    "Walker",
    "White",
    "Edwards",
    "Hughes",
    "Green",
    "Hall",
    "Lewis",
    "Harris",
    "Clarke",
    "Patel",
    "Jackson",
    "Wood",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Morris",
    "Moore",
    "Clark",
    "Lee",
    "King",
    "Baker",
    "Harrison",
    "Morgan",
    "Allen",
    "James",
    "Scott",
    "Phillips",
    "Watson",
    "Davis",
    "Parker",
    "Price",
    "Bennett",
    "Young",
    "Griffiths",
    "Mitchell",
    "Kelly",
    "Cook",
    "Carter",
    "Richardson",
    "Bailey",
    "Collins",
    "Bell",
    "Shaw",
    "Murphy",
    "Miller",
    "Cox",
    "Richards",
    "Khan",
    "Marshall",
    "Anderson",
    "Simpson",
    "Ellis",
    "Adams",
    "Singh",
    "Begum",
    "Wilkinson",
    "Foster",
    "Chapman",
    "Powell",
    "Webb",
    "Rogers",
    "Gray",
    "Mason",
    "Ali",
    "Hunt",
    "Hussain",
    "Campbell",
    "Matthews",
    "Owen",
    "Palmer",
    "Holmes",
    "Mills",
    "Barnes",
    "Knight",
    "Lloyd",
    "Butler",
    "Russell",
    "Barker",
    "Fisher",
    "Stevens",
    "Jenkins",
    "Murray",
    "Dixon",
    "Harvey",
    "Graham",
    "Pearson",
    "Ahmed",
    "Fletcher",
    "Walsh",
    "Kaur",
    "Gibson",
    "Howard",
    "Andrews",
    "Stewart",
    "Elliott",
    "Reynolds",
    "Saunders",
    "Payne",
    "Fox",
    "Ford",
    "Pearce",
    "Day",
    "Brooks",
    "West",
    "Lawrence",
    "Cole",
    "Atkinson",
    "Bradley",
    "Spencer",
    "Gill",
    "Dawson",
    "Ball",
    "Burton",
    "Okonkwo",
    "Nguyen",
    "Garcia",
    "Muller",
    "Kowalski",
    "Novak",
    "Rossi",
    "Silva",
    "Haddad",
    "Kim",
    "Tanaka",
    "Ivanova",
    "Mensah",
    "Osei",
    "Abara",
    "Fernandes",
    "Lindqvist",
    "Papadopoulos",
    "Yilmaz",
    "Horvath",
    "Obrien",
    "Dubois",
    "Schmidt",
    "Jansen",
    "Ferreira",
    "Costa",
    "Romano",
    "Petrov",
    "Sato",
    "Chen",
    "Wang",
    "Zhang",
    "Liu",
    "Huang",
    "Gupta",
    "Sharma",
    "Iyer",
    "Reddy",
    "Das",
    "Mahmoud",
    "Farah",
    "Abdi",
    "Mwangi",
    "Otieno",
    "Banda",
    "Phiri",
    "Dlamini",
    "Nkosi",
    "Adeyemi",
    "Eze",
    "Balogun",
    "Bakker",
    "Visser",
    "Berg",
]

FIRST_NAMES = [
    "John",
    "Mary",
    "Anh",
    "Lucia",
    "Sean",
    "Anna",
    "James",
    "Sarah",
    "David",
    "Emma",
    "Michael",
    "Olivia",
    "Robert",
    "Sophie",
    "Daniel",
    "Grace",
    "Thomas",
    "Amara",
    "Chloe",
    "Peter",
    "Hannah",
    "Paul",
    "Lily",
    "Mark",
    "Ella",
    "Richard",
    "Amelia",
    "Joseph",
    "Isla",
    "Andrew",
    "Mia",
    "George",
    "Ava",
    "Samuel",
    "Ruby",
    "William",
    "Freya",
    "Ahmed",
    "Fatima",
    "Mohammed",
    "Aisha",
    "Wei",
    "Mei",
    "Hiroshi",
    "Yuki",
    "Ivan",
    "Olga",
    "Kwame",
    "Ama",
    "Carlos",
    "Elena",
    "Luca",
    "Giulia",
    "Pierre",
    "Claire",
    "Hans",
    "Ingrid",
    "Raj",
    "Priya",
    "Arjun",
    "Anjali",
    "Chinedu",
    "Ngozi",
    "Tariq",
    "Leila",
    "Omar",
    "Zara",
]

COMMON_WORDS = [
    "the",
    "patient",
    "was",
    "seen",
    "in",
    "clinic",
    "today",
    "and",
    "is",
    "well",
    "with",
    "no",
    "new",
    "complaints",
    "reported",
    "since",
    "the",
    "last",
    "review",
    "of",
    "history",
    "examination",
    "plan",
    "on",
    "for",
    "to",
    "at",
    "by",
    "from",
    "after",
    "before",
    "during",
    "this",
    "that",
    "has",
    "had",
    "been",
    "not",
    "reports",
    "denies",
    "noted",
    "presented",
    "follow",
    "up",
    "continue",
    "current",
    "medication",
    "dose",
    "daily",
    "twice",
    "weekly",
    "normal",
    "abnormal",
    "stable",
    "improved",
    "worse",
    "mild",
    "moderate",
    "severe",
    "acute",
    "chronic",
    "left",
    "right",
    "bilateral",
    "pain",
    "swelling",
    "fever",
    "cough",
    "breathlessness",
    "fatigue",
    "nausea",
    "vomiting",
    "headache",
    "dizziness",
    "rash",
    "blood",
    "pressure",
    "heart",
    "rate",
    "temperature",
    "oxygen",
    "saturation",
    "weight",
    "height",
    "bmi",
    "pulse",
    "respiratory",
    "chest",
    "abdomen",
    "soft",
    "non",
    "tender",
    "bowel",
    "sounds",
    "present",
    "clear",
    "lungs",
    "air",
    "entry",
    "heart",
    "sounds",
    "murmur",
    "assessment",
    "impression",
    "diagnosis",
    "management",
    "advice",
    "discussed",
    "explained",
    "agreed",
    "understood",
    "consent",
    "referral",
    "clinic",
    "appointment",
    "weeks",
    "months",
    "review",
    "gp",
    "nurse",
    "consultant",
    "registrar",
    "doctor",
    "team",
    "results",
    "test",
    "scan",
    "report",
    "specimen",
    "sample",
    "collected",
    "range",
    "reference",
    "within",
    "limits",
    "flagged",
    "history",
    "family",
    "social",
    "smoker",
    "alcohol",
    "units",
    "allergies",
    "known",
    "drug",
    "reaction",
    "penicillin",
    "hypertension",
    "diabetes",
    "mellitus",
    "type",
    "asthma",
    "copd",
    "heart",
    "failure",
    "atrial",
    "fibrillation",
    "angina",
    "stroke",
    "kidney",
    "disease",
    "anaemia",
    "thyroid",
    "depression",
    "anxiety",
    "arthritis",
    "osteoporosis",
    "obesity",
    "ecg",
    "echocardiogram",
    "x-ray",
    "ultrasound",
    "ct",
    "mri",
    "endoscopy",
    "colonoscopy",
    "biopsy",
    "spirometry",
    "further",
    "action",
    "required",
    "repeat",
    "in",
    "if",
    "symptoms",
    "persist",
    "return",
    "safety",
    "netting",
    "given",
    "leaflet",
    "discharge",
    "summary",
    "admission",
    "ward",
    "hospital",
    "stay",
    "inpatient",
    "outpatient",
    "emergency",
    "department",
    "cardiology",
    "respiratory",
    "gastroenterology",
    "nephrology",
    "neurology",
    "dermatology",
    "endocrinology",
    "orthopaedics",
]

LAB_TESTS = (
    ("Haemoglobin", "g/dL", 11.0, 17.0),
    ("White cell count", "x10^9/L", 3.5, 12.0),
    ("Platelets", "x10^9/L", 140, 420),
    ("Sodium", "mmol/L", 132, 146),
    ("Potassium", "mmol/L", 3.3, 5.4),
    ("Creatinine", "umol/L", 50, 130),
    ("eGFR", "mL/min", 40, 95),
    ("HbA1c", "mmol/mol", 35, 80),
    ("Cholesterol", "mmol/L", 3.0, 7.5),
    ("TSH", "mU/L", 0.3, 5.5),
    ("CRP", "mg/L", 1, 60),
    ("ALT", "U/L", 10, 80),
    ("Ferritin", "ug/L", 15, 300),
    ("INR", "", 0.9, 3.5),
)

DRUGS = (
    "metformin",
    "amlodipine",
    "ramipril",
    "atorvastatin",
    "simvastatin",
    "bisoprolol",
    "omeprazole",
    "lansoprazole",
    "levothyroxine",
    "salbutamol",
    "beclometasone",
    "amoxicillin",
    "doxycycline",
    "clarithromycin",
    "paracetamol",
    "ibuprofen",
    "naproxen",
    "codeine",
    "tramadol",
    "sertraline",
    "citalopram",
    "fluoxetine",
    "warfarin",
    "apixaban",
    "rivaroxaban",
    "furosemide",
    "bendroflumethiazide",
    "insulin",
    "gliclazide",
    "prednisolone",
    "allopurinol",
    "colchicine",
    "losartan",
    "clopidogrel",
    "aspirin",
)

RARE_WORDS = ("phaeochromocytoma", "sarcoidosis", "amyloidosis", "porphyria", "acromegaly", "myasthenia")

TITLES = {
    "lab_report": "LABORATORY REPORT",
    "referral": "REFERRAL LETTER",
    "prescription": "PRESCRIPTION",
    "discharge_summary": "DISCHARGE SUMMARY",
    "consent_form": "CONSENT FORM",
    "invoice": "INVOICE",
    "other": "CLINIC CORRESPONDENCE",
}


@dataclass
class Figures:
    """What one bench run measured; printed as a table and, with --json, as one object.

    The headline fields (baseline_*, endpoint_*, ratio_*) are the box asked for: plain by
    default, encrypted with --encrypted or --both (where the plain box is the reference).
    `sides` holds every side measured, `ratios` the ratios beyond endpoint/baseline.
    """

    machine: str
    pages: int
    documents: int
    patients: int
    queries: int
    repeat: int
    build_seconds: float
    database_mb: float
    baseline_p50_ms: float
    baseline_p95_ms: float
    endpoint_p50_ms: float
    endpoint_p95_ms: float
    other_load: float
    ratio_p50: float
    ratio_p95: float
    target_p95_ms: float
    meets_target: bool
    box: str = "plain"
    baseline: str = "FTS5 direct"
    sides: dict[str, dict[str, float]] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)


@dataclass
class Side:
    """One way of answering the queries: a name, its unit of work, and what it needs before a block of it."""

    name: str
    short: str
    run: Callable[[str], object]
    # An endpoint side: its signed-in test client, and what points the app's handle at its box.
    client: Any = None
    before: Callable[[], object] = lambda: None


@dataclass
class Latencies:
    """Milliseconds per query on every side (by side name), and the share of the machine other programs used."""

    sides: dict[str, dict[str, list[float]]]
    other_load: float


@dataclass
class Corpus:
    """The shape of the generated box: how many pages, documents and patients."""

    pages: int
    documents: int
    patients: int


class TextMaker:
    """Generates clinic-like page text from fixed vocabularies with seeded random sources."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.draws = np.random.default_rng(rng.getrandbits(64))
        self.words = np.array(COMMON_WORDS + list(DRUGS) + list(RARE_WORDS), dtype=object)
        self.probabilities = word_probabilities(len(COMMON_WORDS) + len(DRUGS), len(RARE_WORDS))
        self.buffer: list[str] = []
        self.cursor = 0

    def draw(self, count: int) -> list[str]:
        """The next `count` free-text words, drawn from the vocabulary a million at a time."""
        if self.cursor + count > len(self.buffer):
            picks = self.draws.choice(len(self.words), size=max(count, WORDS_PER_DRAW), p=self.probabilities)
            self.buffer, self.cursor = self.words[picks].tolist(), 0
        self.cursor += count
        return self.buffer[self.cursor - count : self.cursor]

    def prose(self, count: int) -> str:
        """`count` words of free text in sentences of a dozen words."""
        words = self.draw(count)
        return " ".join(" ".join(words[i : i + 12]).capitalize() + "." for i in range(0, count, 12))

    def lab_line(self) -> str:
        """One result line: test, value, unit and reference range."""
        name, unit, low, high = self.rng.choice(LAB_TESTS)
        value = self.rng.uniform(low * 0.8, high * 1.2)
        return f"{name} {value:.1f} {unit}   Reference range {low} - {high}"

    def drug_line(self) -> str:
        """One medication line: drug, strength and frequency."""
        strength = self.rng.choice((5, 10, 20, 40, 250, 500, 1000))
        frequency = self.rng.choice(("once daily", "twice daily", "three times daily", "at night", "as required"))
        return f"{self.rng.choice(DRUGS).capitalize()} {strength} mg {frequency}"

    def page(self, header: list[str]) -> str:
        """A page: its header lines, then a mix of prose, lab results and medication lines (150-300 words)."""
        lines = list(header)
        budget = self.rng.randint(150, 300) - sum(len(line.split()) for line in header)
        while budget > 0:
            kind = self.rng.random()
            if kind < 0.5:
                line = self.prose(min(budget, self.rng.randint(12, 48)))
            elif kind < 0.8:
                line = self.lab_line()
            else:
                line = self.drug_line()
            lines.append(line)
            budget -= len(line.split())
        return "\n".join(lines)


def word_probabilities(common: int, rare: int) -> np.ndarray:
    """Zipf (1/rank) probabilities for the `common` words, then RARE_WORD_CHANCE for each rare word."""
    weights = 1 / np.arange(1, common + 1)
    weights *= (1 - rare * RARE_WORD_CHANCE) / weights.sum()
    return np.concatenate([weights, np.full(rare, RARE_WORD_CHANCE)])


def mrn_of(patient_id: int) -> str:
    """The generated MRN of patient `patient_id` (8 digits, like the ingest bench)."""
    return f"{10_000_000 + patient_id * 7919:08d}"


def timestamp(day: dt.date, rng: random.Random) -> str:
    """A DATETIME column value on `day`, as peewee stores it."""
    return dt.datetime.combine(day, dt.time(rng.randrange(8, 18), rng.randrange(60), rng.randrange(60))).isoformat(" ")


def patient_rows(count: int, rng: random.Random) -> list[tuple]:
    """Patients 1..count with a name, an MRN and a date of birth."""
    rows = []
    for pid in range(1, count + 1):
        dob = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(365 * 90))
        created = timestamp(dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(365 * 4)), rng)
        rows.append(
            (pid, mrn_of(pid), rng.choice(SURNAMES), rng.choice(FIRST_NAMES), dob.isoformat(), created, created)
        )
    return rows


def header_lines(doc_type: str, patient: tuple | None, day: dt.date, number: int) -> list[str]:
    """The identifying lines of a page: full header on page 1, a running header after."""
    name = f"{patient[2].upper()}, {patient[3]}" if patient else "UNKNOWN"
    if number > 1:
        return [f"{name}   MRN: {patient[1] if patient else '-'}   Page {number}"]
    lines = [TITLES[doc_type], f"Patient Name: {name}"]
    if patient:
        dob = dt.date.fromisoformat(patient[4])
        lines += [f"Date of Birth: {dob:%d/%m/%Y}", f"MRN: {patient[1]}"]
    return [*lines, f"Report Date: {day:%d/%m/%Y}"]


def insert_batch(cursor, batch: dict[str, list[tuple]]) -> None:
    """Write one batch of generated rows with one executemany per table."""
    cursor.executemany(
        "INSERT INTO scan (id, sha256, original_name, source, size, status, page_count, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        batch["scan"],
    )
    cursor.executemany(
        "INSERT INTO job (id, scan_id, state, attempts, pages_total, pages_done, created_at, finished_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        batch["job"],
    )
    cursor.executemany(
        "INSERT INTO document (id, uid, scan_id, patient_id, status, review_reason, doc_type, doc_date, "
        "first_page, page_count, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        batch["document"],
    )
    cursor.executemany(
        "INSERT INTO page (id, scan_id, document_id, number, text, text_source, confidence, rotation, is_separator) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        batch["page"],
    )
    cursor.executemany("INSERT INTO page_fts (rowid, text) VALUES (?, ?)", batch["page_fts"])


def split_pages(total: int, documents: int, rng: random.Random) -> list[int]:
    """Page counts for `documents` documents, at least one each, adding up to `total`."""
    counts = [1] * documents
    for _ in range(total - documents):
        counts[rng.randrange(documents)] += 1
    return counts


def document_batches(corpus: Corpus, patients: list[tuple], rng: random.Random, size: int = 1000):
    """The scan, job, document, page and page_fts rows, one dict of lists per `size` documents."""
    maker = TextMaker(rng)
    page_id = 0
    batch = new_batch()
    for doc_id, page_count in enumerate(split_pages(corpus.pages, corpus.documents, rng), start=1):
        patient = None if rng.random() < UNASSIGNED_SHARE else rng.choice(patients)
        doc_type = rng.choice(tuple(TITLES))
        day = dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(365 * 6))
        received = timestamp(day + dt.timedelta(days=rng.randrange(30)), rng)
        sha = hashlib.sha256(f"bench-scan-{doc_id}".encode()).hexdigest()
        batch["scan"].append(
            (doc_id, sha, f"scan-{doc_id:06d}.pdf", "inbox", page_count * 180_000, "processed", page_count, received)
        )
        batch["job"].append((doc_id, doc_id, "done", 1, page_count, page_count, received, received))
        status, reason = ("filed", None) if patient else ("needs_review", "no patient identifier found")
        batch["document"].append(
            (
                doc_id,
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                doc_id,
                patient[0] if patient else None,
                status,
                reason,
                doc_type,
                day.isoformat(),
                1,
                page_count,
                received,
                received,
            )
        )
        for number in range(1, page_count + 1):
            page_id += 1
            text = maker.page(header_lines(doc_type, patient, day, number))
            confidence = round(rng.uniform(0.82, 0.98), 3)
            batch["page"].append((page_id, doc_id, doc_id, number, text, "ocr", confidence, 0, 0))
            batch["page_fts"].append((page_id, text))
        if doc_id % size == 0:
            yield batch
            batch = new_batch()
    if batch["scan"]:
        yield batch


def new_batch() -> dict[str, list[tuple]]:
    """Empty row lists, one per table written."""
    return {"scan": [], "job": [], "document": [], "page": [], "page_fts": []}


def box_config(data_dir: Path, encrypted: bool) -> Config:
    """A fresh box's settings; an encrypted one gets a new data key, remembered in a private runtime folder."""
    if not encrypted:
        return Config(data_dir=data_dir, ocr_processes=1)
    runtime = data_dir.with_name(f"{data_dir.name}-run")
    runtime.mkdir(mode=0o700)
    config = Config(data_dir=data_dir, ocr_processes=1, encryption=True, runtime_dir=runtime)
    data_key.remember(config, DataKey.generate())
    return config


def build_box(data_dir: Path, pages: int, encrypted: bool = False) -> tuple[Config, Corpus, float]:
    """Open a fresh box in `data_dir` (encrypted or not) and fill it with `pages` generated pages in one
    transaction; the staff user is created too."""
    corpus = Corpus(
        pages=pages,
        documents=max(1, pages // PAGES_PER_DOCUMENT),
        patients=max(1, pages // (PAGES_PER_DOCUMENT * DOCUMENTS_PER_PATIENT)),
    )
    config = box_config(data_dir, encrypted)
    start = time.perf_counter()
    open_box(config)
    rng = random.Random(SEED)
    patients = patient_rows(corpus.patients, rng)
    with database.atomic():
        cursor = database.cursor()
        cursor.executemany(
            "INSERT INTO patient (id, mrn, last_name, first_name, dob, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            patients,
        )
        for batch in document_batches(corpus, patients, rng):
            insert_batch(cursor, batch)
        for step in FILL_SEARCH_TERMS:  # the vocabulary, as a box upgraded to it fills it
            database.execute_sql(step)
    seconds = time.perf_counter() - start
    create_user(STAFF_USER, STAFF_PASSWORD, role="staff", actor="bench")
    database.close()
    return config, corpus, seconds


def timed(call) -> float:
    """Milliseconds one call of `call()` took."""
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def direct_database(path: Path, keys: tuple[str, ...] = ()) -> BoxDatabase:
    """A connection of the baseline's own to a box's database with the box's pragmas (SQLCipher with `keys`)."""
    direct = BoxDatabase(str(path), pragmas=PRAGMAS, timeout=10)
    direct.keys = keys
    direct.connect()
    return direct


def sqlcipher_keys(config: Config) -> tuple[str, ...]:
    """The PRAGMA key values of the box's database (none on a plain box)."""
    key = box_key(config)
    return () if key is None else key.sqlcipher_keys


def plain_copy(config: Config, target: Path) -> Path:
    """A plain SQLite copy of an encrypted box's database (`sqlcipher_export`), for the plain FTS5 baseline."""
    conn = sqlcipher3.connect(str(config.database_path))
    try:
        conn.execute(f'PRAGMA key = "{sqlcipher_keys(config)[0]}"')
        conn.execute("ATTACH DATABASE ? AS plaintext KEY ''", (str(target),))
        conn.execute("SELECT sqlcipher_export('plaintext')")
        conn.execute("DETACH DATABASE plaintext")
    finally:
        conn.close()
    return target


def megabytes(db: pw.SqliteDatabase) -> float:
    """The database's size in MB (MiB), whether its pages sit in the main file or still in the WAL.

    (SQLCipher answers `PRAGMA page_size` with a string.)
    """
    pages, size = (int(db.execute_sql(f"PRAGMA {name}").fetchone()[0]) for name in ("page_count", "page_size"))
    return pages * size / 2**20


FLOOR_SNIPPET = "SELECT snippet(page_fts, 0, ?, ?, '…', 16) FROM page_fts WHERE page_fts MATCH ? AND rowid = ?"


def direct_search(direct: pw.SqliteDatabase, query: str) -> list[tuple]:
    """The baseline's unit of work, on the FTS5 table alone: the LIMIT best rows by bm25 and their snippets.

    The same statements as `appliance/search.py` (ranking window, bm25, snippet) without the
    joins to pages, documents and patients, the session or the template: the least a ranked,
    highlighted answer costs. The endpoint is compared against it.
    """
    match = to_fts_query(query)
    start = direct.execute_sql(WINDOW_START.format(joins="", filters=""), (match, RANK_WINDOW - 1)).fetchone()
    since = start[0] if start else 0
    ranked = direct.execute_sql(RANKED.format(joins="", filters=""), (match, since, LIMIT, 0)).fetchall()
    return [direct.execute_sql(FLOOR_SNIPPET, (HIT_START, HIT_END, match, rowid)).fetchone() for rowid, _ in ranked]


def csrf_from(html: str) -> str:
    """The CSRF token of the form in `html`."""
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def signed_in_client(config: Config):
    """A test client of the real app, signed in as the staff user through the login form."""
    from appliance.web import create_app

    client = create_app(config).test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": STAFF_USER, "password": STAFF_PASSWORD, "csrf_token": token})
    if response.status_code != 302:
        raise SystemExit(f"signing in failed: HTTP {response.status_code}")
    return client


def search_once(client, query: str) -> str:
    """One GET /search?q=query; the page's HTML (stops the bench on anything but 200)."""
    response = client.get("/search", query_string={"q": query})
    if response.status_code != 200:
        raise SystemExit(f"GET /search?q={query!r} answered HTTP {response.status_code}")
    return response.get_data(as_text=True)


DOCUMENTS = """
SELECT count(DISTINCT p.document_id) FROM page_fts JOIN page p ON p.id = page_fts.rowid
WHERE page_fts MATCH ? AND page_fts.rowid >= ?
"""


def direct_documents(direct: pw.SqliteDatabase, query: str) -> int:
    """How many documents have a page matching `query` within the ranking window."""
    match = to_fts_query(query)
    start = direct.execute_sql(WINDOW_START.format(joins="", filters=""), (match, RANK_WINDOW - 1)).fetchone()
    return direct.execute_sql(DOCUMENTS, (match, start[0] if start else 0)).fetchone()[0]


def check_endpoint(client, direct: pw.SqliteDatabase, queries: tuple[str, ...]) -> None:
    """Stop the bench unless the endpoint shows as many documents per query as match directly
    (a query it answered with a respelling must show some)."""
    for query in queries:
        html = search_once(client, query)
        shown = html.count('class="hit"')
        if "Showing results for" in html:
            if not shown:
                raise SystemExit(f"endpoint respelled {query!r} and shows nothing")
            continue
        expected = min(direct_documents(direct, query), LIMIT - 1)
        if shown != expected:
            raise SystemExit(f"endpoint shows {shown} documents for {query!r}, {expected} match directly")


def pointing_at(config: Config) -> Callable[[], None]:
    """What an endpoint side does before its block: the app's shared database handle (and the
    files' sealing) pointed at its own box, as `create_app` leaves them (requests connect)."""

    def before() -> None:
        open_box(config)
        database.close()

    return before


def machine_busy() -> float:
    """CPU seconds all cores have been busy so far (every process, plus time the hypervisor stole)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal


def own_cpu() -> float:
    """CPU seconds used so far by this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_sides(groups: list[list[Side]], queries: tuple[str, ...], repeat: int) -> Latencies:
    """`repeat` rounds of every query on every side, one side after another; with several groups
    (plain box, encrypted box) their order swaps every round, so a changing load weighs on both."""
    latencies: dict[str, dict[str, list[float]]] = {
        side.name: {q: [] for q in queries} for group in groups for side in group
    }
    busy, cpu, start = machine_busy(), own_cpu(), time.perf_counter()
    for number in range(repeat):
        for group in groups if number % 2 == 0 else groups[::-1]:
            for side in group:
                side.before()
                for q in queries:
                    latencies[side.name][q].append(timed(lambda q=q, side=side: side.run(q)))
    seconds, cores = time.perf_counter() - start, psutil.cpu_count() or 1
    other = (machine_busy() - busy - (own_cpu() - cpu)) / (seconds * cores)
    return Latencies(latencies, max(0.0, other))


def percentile(values: list[float], p: int) -> float:
    """The p-th percentile (inclusive method) of `values`, rounded to 0.01."""
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[p - 1], 2)


def pooled(latencies: dict[str, list[float]]) -> list[float]:
    """Every latency of every query in one list."""
    return [ms for values in latencies.values() for ms in values]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """A generic description of this machine: cores, CPU model, RAM, Python, SQLite and SQLCipher versions."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ram = psutil.virtual_memory().total / 2**30
    return (
        f"{cores}-core {cpu_model()}, {ram:.0f} GiB RAM, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, SQLCipher's SQLite {sqlcipher3.sqlite_version}"
    )


def per_query_table(sides: list[Side], latencies: Latencies, hits: dict[str, int]) -> list[str]:
    """One row per query: hits, and p50 of every side."""
    rows = [f"  {'query':28}{'hits':>6}" + "".join(f"{side.short + ' p50':>19}" for side in sides)]
    for q in hits:
        hits_shown = f"{hits[q]}" if hits[q] < LIMIT else f"{LIMIT - 1}+"
        medians = "".join(f"{statistics.median(latencies.sides[side.name][q]):>17.2f}ms" for side in sides)
        rows.append(f"  {q:28}{hits_shown:>6}{medians}")
    return rows


def side_figures(latencies: Latencies) -> dict[str, dict[str, float]]:
    """p50 and p95 of every side, over all queries and repetitions."""
    return {
        name: {"p50_ms": percentile(pooled(values), 50), "p95_ms": percentile(pooled(values), 95)}
        for name, values in latencies.sides.items()
    }


def figures_of(
    corpus: Corpus,
    repeat: int,
    build_seconds: float,
    database_mb: float,
    latencies: Latencies,
    box: str,
    headline: tuple[Side, Side],
    ratios: dict[str, tuple[str, str]],
    endpoints: list[str],
) -> Figures:
    """The run's figures from the raw latencies: `headline` is the (baseline, endpoint) pair of the
    box asked for, `ratios` names further ratios as (numerator side, denominator side)."""
    sides = side_figures(latencies)
    b, e = sides[headline[0].name], sides[headline[1].name]
    extra = {
        f"{name} {p}": round(sides[top][f"{p}_ms"] / sides[bottom][f"{p}_ms"], 2)
        for name, (top, bottom) in ratios.items()
        for p in ("p50", "p95")
    }
    return Figures(
        machine=machine(),
        pages=corpus.pages,
        documents=corpus.documents,
        patients=corpus.patients,
        queries=len(next(iter(latencies.sides.values()))),
        repeat=repeat,
        build_seconds=round(build_seconds, 1),
        database_mb=round(database_mb, 1),
        baseline_p50_ms=b["p50_ms"],
        baseline_p95_ms=b["p95_ms"],
        endpoint_p50_ms=e["p50_ms"],
        endpoint_p95_ms=e["p95_ms"],
        other_load=round(latencies.other_load, 3),
        ratio_p50=round(e["p50_ms"] / b["p50_ms"], 2),
        ratio_p95=round(e["p95_ms"] / b["p95_ms"], 2),
        target_p95_ms=TARGET_P95_MS,
        meets_target=all(sides[name]["p95_ms"] <= TARGET_P95_MS for name in endpoints),
        box=box,
        baseline=headline[0].name,
        sides=sides,
        ratios=extra,
    )


def report(f: Figures, details: list[str], endpoints: list[str]) -> str:
    """The figures as a short table."""
    rows = [
        f"Search: {f.pages} pages, {f.documents} documents, {f.patients} patients, {f.box} box; "
        f"{f.queries} queries x {f.repeat} repetitions",
        f"machine: {f.machine}",
        f"build: {f.build_seconds:.1f} s (database {f.database_mb:.0f} MB)",
        *details,
        f"{'':40}{'p50 ms':>9}{'p95 ms':>9}",
        *(f"{name:40}{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}" for name, s in f.sides.items()),
        f"{'ratio endpoint/baseline':40}{f.ratio_p50:>9.2f}{f.ratio_p95:>9.2f}"
        + ("" if "(baseline)" in f.baseline else f"   (baseline: {f.baseline})"),
        *(
            f"{'ratio ' + name[:-4]:40}{f.ratios[name]:>9.2f}{f.ratios[name[:-4] + ' p95']:>9.2f}"
            for name in f.ratios
            if name.endswith(" p50")
        ),
    ]
    for name in endpoints:
        p95 = f.sides[name]["p95_ms"]
        verdict = "ok" if p95 <= TARGET_P95_MS else "OVER TARGET"
        rows.append(f"{name}: p95 {p95:.1f} ms, target <= {TARGET_P95_MS:.0f} ms: {verdict}")
    rows.append(f"other programs' share of the machine while measuring: {f.other_load:.0%}")
    if f.other_load > OTHER_LOAD_WARNING:
        rows.append(
            f"warning: other programs used over {OTHER_LOAD_WARNING:.0%} of the machine during the run; "
            "the latencies are not reliable, run again on a quiet machine"
        )
    return "\n".join(rows)


def direct_side(name: str, short: str, direct: pw.SqliteDatabase) -> Side:
    return Side(name, short, lambda q: direct_search(direct, q))


def endpoint_side(name: str, short: str, config: Config) -> Side:
    """The endpoint of the box in `config`, signed in (its handle is pointed at the box first)."""
    before = pointing_at(config)
    before()
    client = signed_in_client(config)
    return Side(name, short, lambda q: search_once(client, q), client=client, before=before)


def measure(
    pages: int, repeat: int, box: str = "plain", queries: tuple[str, ...] = QUERIES
) -> tuple[Figures, list[str], list[str]]:
    """Build the box(es), then run the queries on every side, round by round.

    "plain": FTS5 direct (baseline) and the endpoint on a plain box. "encrypted": on an encrypted
    box, FTS5 direct through SQLCipher (baseline), FTS5 direct on a plain copy of the same
    database (the cipher's own cost) and the endpoint. "both": a plain and an encrypted box built
    alike, each with its FTS5 direct and its endpoint, the boxes' order swapping every round.
    Returns the figures, the per-query table and the endpoint sides' names.
    """
    connections: list[pw.SqliteDatabase] = []
    built: dict[bool, tuple[Config, Corpus, float]] = {}
    with tempfile.TemporaryDirectory(prefix="digifort-search-bench-") as tmp:
        try:
            for encrypted in {"plain": (False,), "encrypted": (True,), "both": (False, True)}[box]:
                data_dir = Path(tmp) / ("box-encrypted" if encrypted else "box-plain")
                built[encrypted] = build_box(data_dir, pages, encrypted)

            def direct(config: Config, path: Path | None = None) -> pw.SqliteDatabase:
                keys = () if path is not None else sqlcipher_keys(config)
                connections.append(direct_database(path or config.database_path, keys))
                return connections[-1]

            if box == "plain":
                config = built[False][0]
                groups = [
                    [
                        direct_side("FTS5 direct (baseline)", "direct", direct(config)),
                        endpoint_side("GET /search (endpoint)", "endpoint", config),
                    ]
                ]
                ratios: dict[str, tuple[str, str]] = {}
            elif box == "encrypted":
                config = built[True][0]
                copy = plain_copy(config, Path(tmp) / "plain-copy.db")
                groups = [
                    [
                        direct_side("FTS5 direct, SQLCipher (baseline)", "SQLCipher", direct(config)),
                        direct_side("FTS5 direct, plain SQLite copy", "plain copy", direct(config, copy)),
                        endpoint_side("GET /search, encrypted (endpoint)", "endpoint", config),
                    ]
                ]
                ratios = {"SQLCipher/plain, FTS5 direct": (groups[0][0].name, groups[0][1].name)}
            else:
                plain, sealed = built[False][0], built[True][0]
                groups = [
                    [
                        direct_side("plain: FTS5 direct", "plain direct", direct(plain)),
                        endpoint_side("plain: GET /search", "plain endpoint", plain),
                    ],
                    [
                        direct_side("encrypted: FTS5 direct, SQLCipher", "enc. direct", direct(sealed)),
                        endpoint_side("encrypted: GET /search", "enc. endpoint", sealed),
                    ],
                ]
                ratios = {
                    "plain endpoint/plain direct": (groups[0][1].name, groups[0][0].name),
                    "encrypted/plain, GET /search": (groups[1][1].name, groups[0][1].name),
                    "encrypted/plain, FTS5 direct": (groups[1][0].name, groups[0][0].name),
                }
            sides = [side for group in groups for side in group]
            headline = (groups[-1][0], groups[-1][-1])
            hits = {q: len(direct_search(connections[-1], q)) for q in queries}
            for side in sides:
                if side.client is not None:
                    side.before()
                    check_endpoint(side.client, connections[-1], queries)
            database_mb = megabytes(connections[0])
            latencies = run_sides(groups, queries, repeat)
        finally:
            for connection in connections:
                connection.close()
            database.close()
            for config, _, _ in built.values():
                data_key.forget(config)
            at_rest.use(None)
    corpus, build_seconds = built[box != "plain"][1], built[box != "plain"][2]
    endpoints = [side.name for side in sides if side.client is not None]
    figures = figures_of(corpus, repeat, build_seconds, database_mb, latencies, box, headline, ratios, endpoints)
    builds = ", ".join(
        f"{'encrypted' if sealed else 'plain'} {seconds:.1f} s" for sealed, (_, _, seconds) in built.items()
    )
    return figures, [f"builds: {builds}", *per_query_table(sides, latencies, hits)], endpoints


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: --pages, --repeat, --encrypted or --both, --json."""
    parser = argparse.ArgumentParser(description="Web search latency against the FTS5 query run directly.")
    parser.add_argument("--pages", type=int, default=100_000, help="pages to generate (default 100000)")
    parser.add_argument("--repeat", type=int, default=10, help="runs of each query on each side (default 10)")
    boxes = parser.add_mutually_exclusive_group()
    boxes.add_argument(
        "--encrypted",
        action="store_const",
        dest="box",
        const="encrypted",
        default="plain",
        help="an encrypted box (SQLCipher); baseline FTS5 direct through SQLCipher, and on a plain copy",
    )
    boxes.add_argument(
        "--both",
        action="store_const",
        dest="box",
        const="both",
        help="a plain and an encrypted box, measured alternately; print encrypted/plain",
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    args = parser.parse_args(argv)
    if args.pages < 1 or args.repeat < 1:
        parser.error("--pages and --repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    args = parse_args(argv)
    figures, details, endpoints = measure(args.pages, args.repeat, args.box)
    print(report(figures, details, endpoints))
    if args.json:
        print(json.dumps(asdict(figures)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
