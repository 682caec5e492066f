"""Encryption at rest: an encrypted box processes real scans with real Tesseract, and nothing
under its data folder (database, originals, thumbnails, page views, backups, device key, web
secret, temporary files) nor its log holds a patient's identifiers or a sentence of a letter."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pypdf
import pytest
import sqlcipher3
from PIL import Image

from appliance import at_rest, data_key
from appliance.backup import BackupError, backup_database, restore_database
from appliance.box import BoxLocked, open_box
from appliance.config import Config
from appliance.data_key import DataKey
from appliance.db import database
from appliance.ingest.intake import store_path
from appliance.models import Document, Page, Patient, Scan
from appliance.search import search_documents
from appliance.sync import state
from core.sealed_files import SealBroken, is_sealed_file
from sync import protocol
from tests.conftest import csrf_from, sign_in
from tests.factories import record_lines, render_page, save_image, save_pdf, save_tiff, text_layer_pdf

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.ocr
# What a thief must not find: identifiers as printed and as the box stores them, and sentences.
SECRETS = [
    b"00123456",
    b"SMITH",
    b"Smith",
    b"14/03/1975",
    b"1975-03-14",
    b"77702",
    b"ROE",
    b"Haemoglobin",
    b"venous blood",
    b"Amoxicillin",
    b"three times daily",
    b"persistent cough",
]


def _lines(mrn: str, name: str, dob: str, body: list[str]) -> list[str]:
    return record_lines(mrn=mrn, name=name, dob=dob, body=body)


def encrypted_config(tmp_path: Path) -> Config:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    return Config(
        data_dir=tmp_path / "data",
        inbox=tmp_path / "inbox",
        ocr_processes=2,
        encryption=True,
        runtime_dir=runtime,
        page_timeout_seconds=120,
    )


def environment(config: Config, tmp: Path) -> dict[str, str]:
    return dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(config.data_dir),
        APPLIANCE_INBOX=str(config.inbox),
        APPLIANCE_OCR_PROCESSES="2",
        APPLIANCE_ENCRYPTION="on",
        APPLIANCE_RUNTIME_DIR=str(config.runtime_dir),
        TMPDIR=str(tmp),
    )


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """Real scans in every format processed on an encrypted box by the real CLI (its own process,
    its own empty temporary folder), then viewed in the web UI, backed up, enrolled."""
    base = tmp_path_factory.mktemp("encrypted")
    config = encrypted_config(base)
    key = DataKey.generate()
    data_key.remember(config, key)
    scans = base / "scans"
    scans.mkdir()
    smith = _lines("00123456", "SMITH, John", "14/03/1975", ["Specimen: venous blood.", "Haemoglobin 13.5 g/dL"])
    roe = _lines("77702", "ROE, Richard", "20/07/1969", ["Rx Amoxicillin 500 mg, three times daily."])
    letter = _lines("77702", "ROE, Richard", "20/07/1969", ["Referred for a persistent cough of six weeks."])
    files = [
        save_pdf([render_page(smith)], scans / "lab.pdf"),
        save_tiff([render_page(roe), render_page(smith, seed=3)], scans / "rx.tiff"),
        save_image(render_page(roe, seed=5), scans / "scan.png", "PNG"),
        text_layer_pdf(letter, scans / "letter.pdf"),
    ]
    temporary = base / "system-tmp"
    temporary.mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "appliance", "process", "--json", *map(str, files)],
        cwd=ROOT,
        env=environment(config, temporary),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr
    open_box(config)
    from appliance.web import create_app

    app = create_app(config)
    app.config["TESTING"] = True
    from appliance.users import create_user

    create_user("alice", "alice-password-1", role="admin")
    pages = [(page.document_id, page.id) for page in Page.select()]
    document_ids = [document.id for document in Document.select()]
    roe_id = Patient.get(Patient.mrn == "77702").id
    first = Document.select().first()
    first_sha256 = first.scan.sha256
    client = app.test_client()
    sign_in(client, "alice")
    images = []
    for document_id, page_id in pages:
        for route in ("image", "thumbnail"):
            answer = client.get(f"/documents/{document_id}/pages/{page_id}/{route}")
            assert answer.status_code == 200
            images.append(Image.open(io.BytesIO(answer.data)))
    download = client.get(f"/documents/{first.id}/original")
    assert hashlib.sha256(download.data).hexdigest() == first_sha256
    # Searchable PDFs and a chart are made in memory: no temporary file, here or in the sandbox.
    web_temporary = base / "web-tmp"
    web_temporary.mkdir()
    tempfile.tempdir = str(web_temporary)
    try:
        handed_over = [client.get(f"/documents/{n}/searchable.pdf").data for n in document_ids]
        token = csrf_from(client.get(f"/patients/{roe_id}").get_data(as_text=True))
        chart = client.post(f"/patients/{roe_id}/chart.pdf", data={"csrf_token": token, "purpose": "legal"})
        handed_over.append(chart.data)
    finally:
        tempfile.tempdir = None
    database.connect(reuse_if_open=True)
    state.save_key(config, protocol.new_private_key())
    backup_database(config, config.data_dir / "backups" / "box.db")
    database.close()
    yield {
        "config": config,
        "key": key,
        "run": run,
        "temporary": temporary,
        "images": images,
        "handed_over": handed_over,
        "web_temporary": web_temporary,
    }
    database.close()
    data_key.forget(config)


def every_file(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def test_no_file_under_the_data_folder_holds_patient_data(processed):
    config = processed["config"]
    open_box(config)
    try:  # what is looked for is really there, once decrypted: the box read and filed it
        plain = " ".join(page.text for page in Page.select()) + " ".join(
            f"{patient.mrn} {patient.last_name} {patient.dob}" for patient in Patient.select()
        )
    finally:
        database.close()
    assert [secret for secret in SECRETS if secret.decode() not in plain] == []
    files = every_file(config.data_dir)
    kinds = {path.relative_to(config.data_dir).parts[0] for path in files}
    assert {"store", "thumbs", "views", "backups", "sync", "appliance.db", "web-secret-key"} <= kinds
    for path in files:
        data = path.read_bytes()
        found = [secret for secret in SECRETS if secret in data]
        assert not found, f"{path.relative_to(config.data_dir)} holds {found}"


def test_the_log_and_the_temporary_folder_hold_nothing_of_the_patients(processed):
    run = processed["run"]
    for secret in SECRETS:
        assert secret.decode() not in run.stderr
    # Tesseract read every page from a pipe and renders decrypted in memory: no file was left
    # (or is now) in the system's temporary folder but the multiprocessing machinery's sockets.
    for path in every_file(processed["temporary"]):
        data = path.read_bytes()
        assert not [secret for secret in SECRETS if secret in data], path


def test_originals_views_and_thumbnails_are_age_streams_that_open_with_the_key(processed):
    config = processed["config"]
    open_box(config)
    try:
        scans = list(Scan.select())
        assert len(scans) == 4
        for scan in scans:
            path = store_path(config, scan.sha256)
            assert is_sealed_file(path)
            assert len(at_rest.sealing().read(path)) == scan.size
        assert all(is_sealed_file(path) for path in every_file(config.thumbs_dir))
        assert any(path.name.endswith(".words.json") for path in every_file(config.thumbs_dir))
        assert [image.format for image in processed["images"]] == ["JPEG"] * len(processed["images"])
    finally:
        database.close()


def test_the_pipeline_reads_and_files_as_on_a_plain_box_and_search_works(processed):
    config = processed["config"]
    open_box(config)
    try:
        filed = {document.patient.mrn for document in Document.select() if document.patient}
        assert {"00123456", "77702"} <= filed
        hits = search_documents("Amoxicillin").hits
        assert "77702" in {hit.patient_mrn for hit in hits}
        assert "Amoxicillin" in hits[0].snippet
    finally:
        database.close()


def test_searchable_pdfs_and_a_chart_hold_the_text_and_left_no_plain_copy(processed):
    documents = [pypdf.PdfReader(io.BytesIO(data)) for data in processed["handed_over"]]
    text = [" ".join(page.extract_text() for page in pdf.pages) for pdf in documents]
    assert len(documents) == 5 and all(text)
    assert any("Amoxicillin" in t for t in text[:4]) and "persistent cough" in text[4]
    assert "Amoxicillin" in text[4] and "Cover" in [item.title for item in documents[4].outline]
    assert every_file(processed["web_temporary"]) == []


def test_the_database_and_its_backup_do_not_open_without_the_key(processed):
    config = processed["config"]
    for path in (config.database_path, config.data_dir / "backups" / "box.db"):
        with pytest.raises(sqlite3.DatabaseError):
            sqlite3.connect(path).execute("SELECT count(*) FROM sqlite_master").fetchone()
        wrong = sqlcipher3.connect(str(path))
        wrong.execute(f'PRAGMA key = "{DataKey.generate().sqlcipher_key}"')
        with pytest.raises(sqlcipher3.DatabaseError):
            wrong.execute("SELECT count(*) FROM sqlite_master").fetchone()
        wrong.close()
    with pytest.raises(BackupError):
        restore_database(config, config.data_dir / "backups" / "box.db", DataKey.generate().sqlcipher_key)


def test_a_box_without_its_key_does_not_open(processed, tmp_path):
    config = processed["config"].with_overrides(runtime_dir=tmp_path / "empty-run")
    with pytest.raises(BoxLocked):
        open_box(config)


def test_a_damaged_sealed_file_says_so_instead_of_giving_plain_bytes(processed, tmp_path):
    config = processed["config"]
    open_box(config)
    try:
        scan = Scan.select().first()
        damaged = tmp_path / "damaged"
        raw = store_path(config, scan.sha256).read_bytes()
        damaged.write_bytes(raw[: len(raw) // 2])
        with pytest.raises(SealBroken):
            at_rest.sealing().read(damaged)
    finally:
        database.close()
