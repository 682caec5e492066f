"""Hub ingest benchmark: boxes committing batches to the hub under gunicorn, against plain INSERTs.

N simulated boxes (threads, each with its own key, HTTP session and clinic) commit B batches of
D documents (P pages of clinic-like text each, a patient per document) concurrently through
the real path: signed request, nonce check in Redis, one PostgreSQL transaction per batch with
per-item savepoints, metering, the stored answer. The baseline, in the same run, inserts the
same rows (patients, documents, pages, into copies of the hub's tables with the same indexes,
including the full-text GIN index) with psycopg, one transaction per batch, from the same
number of threads. Printed: batches/s, p50 and p99 commit latency, errors, and the ratio.

Needs PostgreSQL and Redis: DATABASE_URL and REDIS_URL, or run it through the test servers:

    .venv/bin/python -m tests.servers -- .venv/bin/python bench/hub_ingest.py [--boxes 8] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cloud_hub.config import HubConfig
from cloud_hub.devices import issue_enrolment_token
from cloud_hub.hub import open_hub
from cloud_hub.tenancy import create_clinic, create_organisation
from core.waiting import wait_for_http
from sync import protocol
from tests.servers import free_port

WORDS = [
    "patient",
    "seen",
    "in",
    "clinic",
    "today",
    "blood",
    "pressure",
    "stable",
    "continue",
    "current",
    "medication",
    "review",
    "in",
    "six",
    "weeks",
    "haemoglobin",
    "potassium",
    "sodium",
    "creatinine",
    "within",
    "normal",
    "limits",
    "referral",
    "cardiology",
    "echocardiogram",
    "metformin",
    "amlodipine",
    "atorvastatin",
    "no",
    "further",
    "action",
    "required",
    "discharge",
    "summary",
]


@dataclass
class Side:
    """One side's timings: seconds per batch, errors, and the wall time of the whole run."""

    latencies: list[float]
    errors: int
    seconds: float

    def per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: int) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000 if ordered else 0.0


@dataclass
class Figures:
    machine: str
    boxes: int
    batches_per_box: int
    documents_per_batch: int
    pages_per_document: int
    web_workers: int
    batch_bytes: int
    hub_batches_per_second: float
    hub_p50_ms: float
    hub_p99_ms: float
    hub_errors: int
    insert_batches_per_second: float
    insert_p50_ms: float
    insert_p99_ms: float
    insert_errors: int
    ratio: float


def page_text(rng: random.Random) -> str:
    """About 1.5 KB of clinic-like text, as an OCRed page has."""
    return " ".join(rng.choice(WORDS) for _ in range(220))


def make_batches(box: int, batches: int, documents: int, pages: int, sha: str) -> list[dict]:
    """The batches one box sends: new documents with their patients, all pointing at the box's blob."""
    rng = random.Random(box)
    out = []
    for seq in range(1, batches + 1):
        items = []
        for n in range(documents):
            uid = uuid.uuid4().hex
            items.append(
                {
                    "id": uid,
                    "type": "document",
                    "document": {
                        "uid": uid,
                        "status": "filed",
                        "doc_type": "lab_report",
                        "doc_date": "2026-10-01",
                        "original_name": f"scan-{seq}-{n}.pdf",
                        "blob_sha256": sha,
                        "patient": {
                            "mrn": f"{box:02d}{seq:04d}{n:04d}",
                            "last_name": rng.choice(("Smith", "Okafor", "Nguyen")),
                            "first_name": "Jo",
                            "dob": "1970-01-01",
                        },
                        "pages": [{"number": p + 1, "text": page_text(rng)} for p in range(pages)],
                    },
                }
            )
        out.append({"batch_id": uuid.uuid4().hex, "seq": seq, "backlog": (batches - seq) * documents, "items": items})
    return out


class Box:
    """One simulated box: its key, device id and HTTP session."""

    def __init__(self, base: str, token: str):
        self.base, self.key = base, protocol.new_private_key()
        self.session = requests.Session()
        answer = self.session.post(
            f"{base}/api/v1/sync/enrol",
            timeout=30,
            json={"token": token, "public_key": protocol.public_key_text(self.key)},
        )
        answer.raise_for_status()
        self.device = answer.json()["device_id"]

    def send(self, method: str, path: str, body: bytes, content_type: str = "application/json"):
        headers = protocol.sign_request(self.key, self.device, method, path, body)
        headers["Content-Type"] = content_type
        return self.session.request(method, self.base + path, data=body, headers=headers, timeout=120)

    def upload(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.send(
            "PUT", f"/api/v1/sync/blobs/{sha}?size={len(data)}&offset=0", data, "application/octet-stream"
        ).raise_for_status()
        return sha


def run_threads(work: list, target) -> Side:
    """Run `target(item)` for every item of `work`, one thread each; time each call."""
    latencies, errors, lock = [], [0], threading.Lock()

    def worker(item):
        for timed in target(item):
            with lock:
                if timed is None:
                    errors[0] += 1
                else:
                    latencies.append(timed)

    threads = [threading.Thread(target=worker, args=(item,)) for item in work]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Side(latencies, errors[0], time.perf_counter() - start)


def hub_side(boxes: list[Box], batches: list[list[dict]]) -> Side:
    def commit_all(pair):
        box, own = pair
        for batch in own:
            body = json.dumps(batch).encode()
            start = time.perf_counter()
            answer = box.send("POST", "/api/v1/sync/batches", body)
            ok = answer.status_code == 200 and all(r["status"] == "applied" for r in answer.json()["results"])
            yield time.perf_counter() - start if ok else None

    return run_threads(list(zip(boxes, batches, strict=False)), commit_all)


BASELINE_TABLES = ("patient", "document", "page")


def insert_side(url: str, batches: list[list[dict]], organisation_id: int, clinic_ids: list[int]) -> Side:
    with psycopg.connect(url, autocommit=True) as conn:
        for table in BASELINE_TABLES:
            conn.execute(f'CREATE TABLE "bench_{table}" (LIKE "{table}" INCLUDING ALL)')

    def insert_all(pair):
        clinic_id, own = pair
        with psycopg.connect(url) as conn:
            for batch in own:
                start = time.perf_counter()
                try:
                    with conn.transaction():
                        for item in batch["items"]:
                            doc, patient = item["document"], item["document"]["patient"]
                            patient_id = conn.execute(
                                "INSERT INTO bench_patient (organisation_id, clinic_id, mrn, last_name, first_name, "
                                "dob, updated_at) VALUES (%s, %s, %s, %s, %s, %s, now()) RETURNING id",
                                (
                                    organisation_id,
                                    clinic_id,
                                    patient["mrn"],
                                    patient["last_name"],
                                    patient["first_name"],
                                    patient["dob"],
                                ),
                            ).fetchone()[0]
                            document_id = conn.execute(
                                "INSERT INTO bench_document (organisation_id, clinic_id, uid, patient_id, status, "
                                "doc_type, doc_date, page_count, blob_sha256, original_name, created_at, updated_at) "
                                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), now()) RETURNING id",
                                (
                                    organisation_id,
                                    clinic_id,
                                    doc["uid"],
                                    patient_id,
                                    doc["status"],
                                    doc["doc_type"],
                                    doc["doc_date"],
                                    len(doc["pages"]),
                                    doc["blob_sha256"],
                                    doc["original_name"],
                                ),
                            ).fetchone()[0]
                            with conn.cursor() as cursor:
                                cursor.executemany(
                                    "INSERT INTO bench_page (document_id, organisation_id, number, text) "
                                    "VALUES (%s, %s, %s, %s)",
                                    [(document_id, organisation_id, p["number"], p["text"]) for p in doc["pages"]],
                                )
                    yield time.perf_counter() - start
                except psycopg.Error:
                    yield None

    return run_threads(list(zip(clinic_ids, batches, strict=False)), insert_all)


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()}-core {cpu}, Python {platform.python_version()}"


def measure(args) -> Figures:
    server_url = args.database_url or os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    if not server_url or not redis_url:
        raise SystemExit(
            "needs DATABASE_URL and REDIS_URL; run it as: "
            ".venv/bin/python -m tests.servers -- .venv/bin/python bench/hub_ingest.py"
        )
    name = f"digifort_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunparse(urlparse(server_url)._replace(path=f"/{name}"))
    server = None
    try:
        with tempfile.TemporaryDirectory(prefix="digifort-hub-bench-") as tmp:
            config = HubConfig(data_dir=Path(tmp), database_url=url, redis_url=redis_url)
            open_hub(config)
            organisation = create_organisation("Bench Health", actor="bench")
            clinics = [create_clinic(organisation, f"Clinic {n}", actor="bench") for n in range(args.boxes)]
            tokens = [issue_enrolment_token(clinic, "bench", 1)[0] for clinic in clinics]
            port = free_port()
            env = dict(
                os.environ, DATABASE_URL=url, REDIS_URL=redis_url, HUB_DATA_DIR=tmp, HUB_WEB_WORKERS=str(args.workers)
            )
            server = subprocess.Popen(
                [sys.executable, "-m", "cloud_hub", "serve", "--bind", f"127.0.0.1:{port}"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/healthz")
            boxes = [Box(base, token) for token in tokens]
            shas = [box.upload(f"%PDF-1.4 bench original of box {n}".encode()) for n, box in enumerate(boxes)]
            batches = [make_batches(n, args.batches, args.documents, args.pages, sha) for n, sha in enumerate(shas)]
            size = statistics.mean(len(json.dumps(b).encode()) for own in batches for b in own)
            hub = hub_side(boxes, batches)
            inserted = insert_side(
                url,
                [make_batches(n, args.batches, args.documents, args.pages, sha) for n, sha in enumerate(shas)],
                organisation.id,
                [c.id for c in clinics],
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        from cloud_hub.db import database

        if database.obj is not None:
            database.close()
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return Figures(
        machine=machine(),
        boxes=args.boxes,
        batches_per_box=args.batches,
        documents_per_batch=args.documents,
        pages_per_document=args.pages,
        web_workers=args.workers,
        batch_bytes=round(size),
        hub_batches_per_second=round(hub.per_second(), 2),
        hub_p50_ms=round(hub.percentile(50), 1),
        hub_p99_ms=round(hub.percentile(99), 1),
        hub_errors=hub.errors,
        insert_batches_per_second=round(inserted.per_second(), 2),
        insert_p50_ms=round(inserted.percentile(50), 1),
        insert_p99_ms=round(inserted.percentile(99), 1),
        insert_errors=inserted.errors,
        ratio=round(hub.per_second() / inserted.per_second(), 3) if inserted.per_second() else 0.0,
    )


def report(f: Figures) -> str:
    return "\n".join(
        [
            f"Hub ingest: {f.boxes} boxes x {f.batches_per_box} batches of {f.documents_per_batch} documents "
            f"x {f.pages_per_document} pages (~{f.batch_bytes / 1024:.0f} KiB a batch), "
            f"gunicorn {f.web_workers} workers",
            f"machine: {f.machine}",
            f"{'':28}{'batches/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}",
            f"{'hub (signed HTTP commit)':28}{f.hub_batches_per_second:>10.2f}{f.hub_p50_ms:>9.1f}{f.hub_p99_ms:>9.1f}"
            f"{f.hub_errors:>8}",
            f"{'plain INSERT (psycopg)':28}{f.insert_batches_per_second:>10.2f}{f.insert_p50_ms:>9.1f}"
            f"{f.insert_p99_ms:>9.1f}{f.insert_errors:>8}",
            f"{'ratio hub/INSERT':28}{f.ratio:>10.2f}",
        ]
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Hub batch commits against plain INSERTs of the same rows.")
    parser.add_argument("--boxes", type=int, default=8, help="simulated boxes committing at once (default 8)")
    parser.add_argument("--batches", type=int, default=10, help="batches per box (default 10)")
    parser.add_argument("--documents", type=int, default=50, help="documents per batch (default 50)")
    parser.add_argument("--pages", type=int, default=2, help="pages per document (default 2)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--database-url", help="PostgreSQL server (default DATABASE_URL)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    args = parser.parse_args(argv)
    figures = measure(args)
    print(report(figures))
    if args.json:
        print(json.dumps(asdict(figures)))
    return 0 if figures.hub_errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
