"""Converting a plain box to an encrypted one in place: the database through sqlcipher_export,
the files sealed one by one in the background, resumable after a SIGKILL, nothing lost."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from appliance import at_rest, conversion, data_key
from appliance.box import open_box
from appliance.config import Config
from appliance.data_key import DataKey
from appliance.db import database
from appliance.ingest.intake import store_path
from appliance.models import Document, Scan
from appliance.search import search_documents
from appliance.sync import state
from core.sealed_files import is_sealed_file
from sync import protocol
from tests.factories import make_document

ROOT = Path(__file__).resolve().parents[2]


def plain_box(tmp_path: Path, documents: int, original_bytes: int = 0) -> tuple[Config, dict[str, bytes]]:
    """A plain box as the first round left it: database, originals, thumbnails, device key."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    config = Config(data_dir=tmp_path / "data", inbox=tmp_path / "inbox", runtime_dir=runtime)
    open_box(config)
    originals = {}
    for n in range(documents):
        data = os.urandom(original_bytes) if original_bytes else None
        document = make_document(config, texts=(f"Haemoglobin normal for patient SMITH{n}",), original=data)
        thumb = config.thumbs_dir / document.scan.sha256[:2] / document.scan.sha256 / "1.jpg"
        thumb.parent.mkdir(parents=True, exist_ok=True)
        thumb.write_bytes(b"\xff\xd8\xff thumbnail of SMITH%d" % n)
        originals[document.scan.sha256] = store_path(config, document.scan.sha256).read_bytes()
    state.save_key(config, protocol.new_private_key())
    database.close()
    return config.with_overrides(encryption=True), originals


def begin(config: Config) -> DataKey:
    """What `init` does on a plain box once the key is sealed: remember it, start converting."""
    key = DataKey.generate()
    data_key.remember(config, key)
    conversion.start(config, key)
    return key


def plain_left(config: Config) -> list[Path]:
    return list(conversion.plain_files(config))


def test_the_database_is_exported_to_sqlcipher_and_everything_still_reads(tmp_path):
    config, originals = plain_box(tmp_path, 3)
    begin(config)
    assert not conversion.database_is_plain(config)
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(config.database_path).execute("SELECT count(*) FROM document").fetchone()
    open_box(config)
    try:
        assert Document.select().count() == 3
        assert len(search_documents("Haemoglobin").hits) == 3
        for sha256, data in originals.items():  # not sealed yet: read as they are meanwhile
            assert at_rest.sealing().read(store_path(config, sha256)) == data
        assert conversion.convert_files(config, at_rest.sealing()) == 3 + 3 + 1
        assert plain_left(config) == []
        assert not conversion.converting(config)
        for sha256, data in originals.items():
            assert is_sealed_file(store_path(config, sha256))
            assert at_rest.sealing().read(store_path(config, sha256)) == data
        state.load_key(config)  # the device key still opens, sealed now
    finally:
        database.close()
    for path in config.data_dir.rglob("*"):
        if path.is_file():
            assert b"SMITH" not in path.read_bytes(), path


def test_a_conversion_cut_before_the_database_swap_starts_again_from_the_plain_one(tmp_path):
    config, _ = plain_box(tmp_path, 2)
    key = DataKey.generate()
    data_key.remember(config, key)
    (config.keys_dir).mkdir(parents=True, exist_ok=True)
    (config.keys_dir / conversion.CONVERTING).write_bytes(b"")
    stale = config.database_path.with_name(config.database_path.name + ".encrypting")
    stale.write_bytes(b"half an export")  # what a power cut during the export leaves
    open_box(config)  # whichever service starts first finishes the database
    try:
        assert Document.select().count() == 2
        assert not stale.exists()
    finally:
        database.close()


def test_sigkill_while_sealing_files_loses_nothing_and_a_second_run_finishes(tmp_path):
    config, originals = plain_box(tmp_path, 120, original_bytes=400_000)
    begin(config)
    env = dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(config.data_dir),
        APPLIANCE_INBOX=str(config.inbox),
        APPLIANCE_ENCRYPTION="on",
        APPLIANCE_RUNTIME_DIR=str(config.runtime_dir),
    )
    command = [sys.executable, "-m", "appliance", "keys", "convert"]
    converter = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    total = len(originals)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        sealed = sum(is_sealed_file(store_path(config, sha256)) for sha256 in originals)
        if sealed >= 5:
            break
        time.sleep(0.01)
    converter.send_signal(signal.SIGKILL)
    converter.wait(30)
    sealed = sum(is_sealed_file(store_path(config, sha256)) for sha256 in originals)
    assert 0 < sealed < total, "the kill must land in the middle of the conversion"
    open_box(config)
    try:  # every original is whole, sealed or still plain, and reads back to its hash
        for sha256 in originals:
            assert hashlib.sha256(at_rest.sealing().read(store_path(config, sha256))).hexdigest() == sha256
        assert Scan.select().count() == total
    finally:
        database.close()
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert plain_left(config) == []
    assert not list(config.data_dir.rglob("*.part"))  # the converter's own partial was replaced or removed
    assert not conversion.converting(config)
    open_box(config)
    try:
        for sha256, data in originals.items():
            assert is_sealed_file(store_path(config, sha256))
            assert at_rest.sealing().read(store_path(config, sha256)) == data
    finally:
        database.close()


def test_the_worker_seals_the_old_files_in_the_background_while_it_takes_new_scans(tmp_path):
    from appliance.ingest.worker import run_worker

    config, originals = plain_box(tmp_path, 20)
    begin(config)
    config = config.with_overrides(ocr_processes=1, stable_seconds=0.3, rescan_seconds=1)
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(config, stop))
    worker.start()
    try:
        deadline = time.monotonic() + 120
        while conversion.converting(config) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        worker.join(60)
    assert not conversion.converting(config)
    assert plain_left(config) == []
    assert all(is_sealed_file(store_path(config, sha256)) for sha256 in originals)
