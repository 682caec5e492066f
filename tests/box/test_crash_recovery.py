"""SIGKILL the worker at random moments: after restarts nothing is lost and nothing doubled."""

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.box import open_box
from appliance.db import database
from appliance.models import Document, Job, Page, Scan
from tests.factories import record_lines, render_page, save_image, text_layer_pdf

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.ocr
FILES = 40

FIRST_NAMES = [
    "Alice",
    "Bruno",
    "Carla",
    "Dmitri",
    "Elena",
    "Felix",
    "Greta",
    "Hamid",
    "Irene",
    "Jonas",
    "Kiran",
    "Leila",
    "Marco",
    "Nadia",
    "Oscar",
    "Petra",
    "Quentin",
    "Rosa",
    "Stefan",
    "Tamara",
    "Umberto",
    "Vera",
    "Walter",
    "Xenia",
    "Yusuf",
    "Zora",
    "Anton",
    "Bianca",
    "Cyril",
    "Dora",
    "Emil",
    "Fiona",
    "Gustav",
    "Hilde",
    "Igor",
    "Julia",
    "Konrad",
    "Lydia",
    "Milan",
    "Nora",
]


def start_worker(env):
    return subprocess.Popen(
        [sys.executable, "-m", "appliance", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kill_everything(process):
    """Like a power cut for the service: the worker, its pool and Tesseract all die at once."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def fill_inbox(inbox: Path):
    for n in range(FILES):
        # Patients far apart (MRNs three digits apart, birthdays weeks apart), so the near-miss
        # guard lets every file create its own patient.
        dob = dt.date(1970, 1, 1) + dt.timedelta(days=37 * n)
        lines = record_lines(mrn=f"9{n:02d}{n:02d}{n:02d}", name=f"Tester, {FIRST_NAMES[n]}", dob=dob.isoformat())
        text_layer_pdf([*lines, f"Visit number {n}"], inbox / f"visit-{n:03d}.pdf")
    save_image(
        render_page(record_lines(mrn="8000001", name="Ocr, Alice", dob="1999-09-09"), noise=0.0003),
        inbox / "ocr-page.png",
        "PNG",
    )


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(box_config):
    config = box_config
    config.inbox.mkdir(parents=True)
    fill_inbox(config.inbox)
    expected = FILES + 1
    env = dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(config.data_dir),
        APPLIANCE_INBOX=str(config.inbox),
        APPLIANCE_OCR_PROCESSES="2",
        APPLIANCE_STABLE_SECONDS="0.3",
        APPLIANCE_RESCAN_SECONDS="1",
    )
    rng = random.Random(20261125)
    kills = 0
    for _ in range(8):
        worker = start_worker(env)
        time.sleep(rng.uniform(1.0, 4.0))
        kill_everything(worker)
        kills += 1
    worker = start_worker(env)
    try:
        open_box(config)
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            done = Job.select().where(Job.state == "done").count()
            if done == expected and not any(config.inbox.iterdir()):
                break
            time.sleep(1)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    print(f"killed the worker {kills} times")
    assert list(config.inbox.iterdir()) == []
    assert Scan.select().count() == expected
    assert {scan.status for scan in Scan.select()} == {"processed"}
    assert Document.select().count() == expected
    assert Page.select().count() == expected
    assert database.execute_sql("SELECT count(*) FROM page_fts").fetchone()[0] == expected
    assert len({d.scan_id for d in Document.select()}) == expected
    mrns = {d.patient.mrn for d in Document.select() if d.patient_id}
    assert len(mrns) == expected
