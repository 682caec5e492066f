"""Sealing the data key and unlocking the box, against a real Tang server (Debian's tangd on loopback)
and the real `clevis`: unlocks by itself when Tang answers, starts locked when it does not,
unlocks with the recovery passphrase on the web page, and scans dropped while locked wait whole in
the inbox and are processed after the unlock.

A "fresh boot" is a new process with an empty runtime folder (a RAM folder in production).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import peewee
import pytest

from appliance import data_key, key_sealing, unlock
from appliance.box import BoxLocked, open_box
from appliance.config import Config
from appliance.data_key import DataKey
from appliance.db import database, open_database
from tests.conftest import csrf_from
from tests.factories import record_lines, text_layer_pdf
from tests.tang import TangServer, available

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct-horse-battery-staple-clinic-7"
pytestmark = pytest.mark.skipif(not available(), reason="tang, clevis or socat missing")


@pytest.fixture
def tang(tmp_path):
    server = TangServer(tmp_path).start()
    yield server
    server.stop()


def box_env(config: Config) -> dict:
    return dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(config.data_dir),
        APPLIANCE_INBOX=str(config.inbox),
        APPLIANCE_RUNTIME_DIR=str(config.runtime_dir),
        APPLIANCE_ENCRYPTION="on",
        APPLIANCE_TANG_URLS=",".join(config.tang_urls),
        APPLIANCE_SEAL_TPM2="off",
        APPLIANCE_UNLOCK_RETRY_SECONDS=str(config.unlock_retry_seconds),
        APPLIANCE_OCR_PROCESSES="1",
        APPLIANCE_STABLE_SECONDS="0.3",
        APPLIANCE_RESCAN_SECONDS="1",
    )


def appliance(config: Config, *arguments: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "appliance", *arguments],
        cwd=ROOT,
        env=box_env(config),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def encrypted_config(tmp_path: Path, tang_urls: tuple[str, ...] = ()) -> Config:
    return Config(
        data_dir=tmp_path / "data",
        inbox=tmp_path / "inbox",
        runtime_dir=tmp_path / "run-boot-1",
        encryption=True,
        tang_urls=tang_urls,
        seal_tpm2="off",
        unlock_retry_seconds=1,
        ocr_processes=1,
        stable_seconds=0.3,
        rescan_seconds=1,
    )


def rebooted(config: Config, boot: int = 2) -> Config:
    """The same box after a power cut: the runtime folder (RAM) is empty."""
    return config.with_overrides(runtime_dir=config.runtime_dir.with_name(f"run-boot-{boot}"))


def initialised(tmp_path: Path, tang_urls: tuple[str, ...] = ()) -> Config:
    config = encrypted_config(tmp_path, tang_urls)
    passphrase_file = tmp_path / "vault-recovery-passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")
    done = appliance(
        config, "init", "--admin-password", "admin-password-1", "--recovery-passphrase-file", str(passphrase_file)
    )
    assert done.returncode == 0, done.stderr
    assert PASSPHRASE not in done.stdout
    return config


@pytest.fixture(autouse=True)
def _closed_database():
    yield
    if not database.deferred:
        database.close()


def test_the_recovery_passphrase_seals_the_key_and_a_wrong_one_is_refused():
    key = DataKey.generate()
    generated = key_sealing.generate_passphrase()
    groups = generated.split("-")
    assert len(groups) == 6 and all(len(group) == 5 for group in groups)
    document = key_sealing.seal_with_passphrase(key.to_bytes(), generated)
    fields = json.loads(document)
    assert (fields["kdf"], fields["time_cost"], fields["memory_kib"], fields["cipher"]) == (
        "argon2id",
        3,
        65536,
        "chacha20-poly1305",
    )
    assert key.database.hex() not in document.decode() and key.files[0] not in document.decode()
    typed = generated.upper().replace("-", " ")
    assert DataKey.from_bytes(key_sealing.open_with_passphrase(document, typed)) == key
    with pytest.raises(key_sealing.WrongPassphrase):
        key_sealing.open_with_passphrase(document, generated[:-1] + ("2" if generated[-1] != "2" else "3"))
    tampered = json.loads(document)
    tampered["time_cost"] = 1
    with pytest.raises(key_sealing.WrongPassphrase):
        key_sealing.open_with_passphrase(json.dumps(tampered).encode(), generated)
    with pytest.raises(ValueError, match="at least"):
        key_sealing.check_passphrase("short-one")


def test_init_seals_to_tang_and_a_fresh_boot_unlocks_by_itself(tmp_path, tang):
    config = initialised(tmp_path, (tang.url,))
    keys = config.keys_dir
    assert (keys / "data-key.jwe").stat().st_mode & 0o777 == 0o600
    assert (keys / "data-key.passphrase.json").stat().st_mode & 0o777 == 0o600
    sealing = json.loads((keys / "sealing.json").read_text())
    assert sealing["tang"] == [tang.url] and sealing["tpm2"] is False and sealing["problem"] is None
    assert not config.database_path.read_bytes().startswith(unlock.SQLITE_HEADER)
    with pytest.raises(peewee.DatabaseError, match="not a database"):
        open_database(config.database_path)

    booted = rebooted(config)
    status = appliance(booted, "status")
    assert status.returncode == 0, status.stderr
    assert "documents: 0 filed" in status.stdout
    assert data_key.recall(booted) is not None
    keys_status = appliance(booted, "keys", "status")
    assert f"Tang {tang.url}" in keys_status.stdout and "unlocked" in keys_status.stdout


def test_a_fresh_boot_with_tang_down_starts_locked(tmp_path, tang):
    config = initialised(tmp_path, (tang.url,))
    tang.stop()
    booted = rebooted(config)
    status = appliance(booted, "status")
    assert status.returncode == 4
    assert "locked" in status.stderr
    assert unlock.try_unlock(booted) is None
    with pytest.raises(BoxLocked):
        open_box(booted)
    assert not booted.runtime_dir.exists() or not any(booted.runtime_dir.iterdir())


def test_a_tang_server_that_never_answers_does_not_hang_the_box(tmp_path, tang, monkeypatch):
    config = initialised(tmp_path, (tang.url,))
    tang.stop()
    silent = socket.socket()
    silent.bind(("127.0.0.1", tang.port))
    silent.listen()
    monkeypatch.setattr(key_sealing, "CLEVIS_SECONDS", 2.0)
    try:
        started = time.monotonic()
        assert unlock.try_unlock(rebooted(config)) is None
        assert time.monotonic() - started < 6
    finally:
        silent.close()


def test_the_web_page_unlocks_with_the_passphrase_and_refuses_a_wrong_one(tmp_path, tang):
    from appliance.models import AuditEvent
    from appliance.web import create_app

    config = initialised(tmp_path, (tang.url,))
    tang.stop()
    app = create_app(rebooted(config))
    app.config["TESTING"] = True
    client = app.test_client()

    for path in ("/", "/patients", "/search?q=smith", "/login"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/unlock"), path
    assert client.get("/api/dashboard").status_code == 503
    assert client.get("/healthz").status_code == 200
    page = client.get("/unlock")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "recovery passphrase" in text.lower() and "the passphrase alone unlocks it" in text
    token = csrf_from(text)

    assert client.post("/unlock", data={"passphrase": PASSPHRASE}).status_code == 400  # no CSRF token
    wrong = client.post("/unlock", data={"passphrase": "not-the-passphrase-at-all", "csrf_token": token})
    assert wrong.status_code == 401
    assert "does not open this box" in wrong.get_data(as_text=True)
    assert client.get("/").headers["Location"].endswith("/unlock")

    right = client.post("/unlock", data={"passphrase": f"  {PASSPHRASE} ", "csrf_token": token})
    assert right.status_code == 302 and right.headers["Location"].endswith("/login")
    login = client.get("/login")
    assert login.status_code == 200 and "The box is unlocked" in login.get_data(as_text=True)
    signed_in = client.post(
        "/login",
        data={
            "username": "admin",
            "password": "admin-password-1",
            "csrf_token": csrf_from(login.get_data(as_text=True)),
        },
    )
    assert signed_in.status_code == 302
    dashboard = client.get("/").get_data(as_text=True)
    assert f"Tang: {tang.url}" in dashboard
    database.connect(reuse_if_open=True)
    event = AuditEvent.get(AuditEvent.action == "box.unlock")
    assert event.detail == {"method": "passphrase"} and PASSPHRASE not in json.dumps(event.detail)
    assert client.get("/unlock").headers["Location"].endswith("/")


def test_unlock_attempts_are_limited(tmp_path):
    from appliance.web import create_app

    config = initialised(tmp_path)
    app = create_app(rebooted(config))
    app.config["TESTING"] = True
    client = app.test_client()
    token = csrf_from(client.get("/unlock").get_data(as_text=True))
    codes = [
        client.post("/unlock", data={"passphrase": f"wrong-guess-number-{n}", "csrf_token": token}).status_code
        for n in range(6)
    ]
    assert codes == [401] * 5 + [429]
    assert client.post("/unlock", data={"passphrase": PASSPHRASE, "csrf_token": token}).status_code == 429


def test_another_process_unlocking_opens_the_web_app(tmp_path):
    from appliance.web import create_app

    config = initialised(tmp_path)
    booted = rebooted(config)
    app = create_app(booted)
    client = app.test_client()
    assert client.get("/login").headers["Location"].endswith("/unlock")
    unlocked = appliance(booted, "keys", "unlock", stdin=PASSPHRASE + "\n")
    assert unlocked.returncode == 0, unlocked.stderr
    assert client.get("/login").status_code == 200


def test_a_session_made_by_the_web_worker_that_unlocked_is_read_by_another(tmp_path):
    from appliance.web import create_app

    config = initialised(tmp_path)
    booted = rebooted(config)
    first, second = create_app(booted), create_app(booted)
    client = first.test_client()
    token = csrf_from(client.get("/unlock").get_data(as_text=True))
    assert client.post("/unlock", data={"passphrase": PASSPHRASE, "csrf_token": token}).status_code == 302
    other = second.test_client()
    other.set_cookie("digifort_box", client.get_cookie("digifort_box").value)
    assert "The box is unlocked" in other.get("/login").get_data(as_text=True)


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting until {what}")


def start_worker(config: Config, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "appliance", "worker"],
        cwd=ROOT,
        env=box_env(config),
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
    )


def filed_mrns(config: Config) -> set[str]:
    from appliance.models import Document

    open_box(config, data_key.recall(config))
    try:
        return {d.patient.mrn for d in Document.select() if d.patient is not None}
    finally:
        database.close()


def test_scans_dropped_while_locked_wait_whole_and_are_processed_after_the_unlock(tmp_path, tang):
    config = initialised(tmp_path, (tang.url,))
    tang.stop()
    booted = rebooted(config)
    log = tmp_path / "worker.log"
    worker = start_worker(booted, log)
    try:
        wait_for(lambda: "box is locked" in log.read_text(), 30, "the worker says the box is locked")
        scans = [
            text_layer_pdf(record_lines(mrn="4400001", name="LOCKED, Anna"), config.inbox / "first.pdf"),
            text_layer_pdf(
                record_lines(mrn="7700952", name="WAITING, Bert", dob="02/11/1988"), config.inbox / "second.pdf"
            ),
        ]
        originals = {scan: scan.read_bytes() for scan in scans}
        time.sleep(3 * booted.rescan_seconds + booted.stable_seconds)
        assert worker.poll() is None
        assert {scan: scan.read_bytes() for scan in scans} == originals
        assert not booted.store_dir.exists() or not any(booted.store_dir.iterdir())

        unlock.unlock_with_passphrase(booted, PASSPHRASE)
        wait_for(lambda: not any(scan.exists() for scan in scans), 60, "the inbox is emptied")
        wait_for(lambda: {"4400001", "7700952"} <= filed_mrns(booted), 60, "both scans are filed")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    assert worker.returncode == 0
    assert PASSPHRASE not in log.read_text()


def test_the_worker_unlocks_by_itself_when_tang_comes_back(tmp_path, tang):
    config = initialised(tmp_path, (tang.url,))
    tang.stop()
    booted = rebooted(config)
    log = tmp_path / "worker.log"
    worker = start_worker(booted, log)
    try:
        wait_for(lambda: "box is locked" in log.read_text(), 30, "the worker says the box is locked")
        text_layer_pdf(record_lines(mrn="5500001", name="RETURN, Tang"), config.inbox / "scan.pdf")
        time.sleep(2)
        assert (config.inbox / "scan.pdf").exists()
        tang.start()
        wait_for(lambda: data_key.recall(booted) is not None, 30, "Clevis unlocks the box")
        wait_for(lambda: "5500001" in filed_mrns(booted), 60, "the scan is filed")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    # Why it is locked and what that means for scans, each said once over several retries.
    assert log.read_text().count("box is locked") == 2


def test_the_sync_agent_waits_while_locked(tmp_path):
    from appliance.sync.agent import run_agent

    config = initialised(tmp_path)
    booted = rebooted(config)
    stop = threading.Event()
    agent = threading.Thread(target=run_agent, args=(booted, stop))
    agent.start()
    time.sleep(1.5)
    assert agent.is_alive()
    stop.set()
    agent.join(timeout=10)
    assert not agent.is_alive()
    once = subprocess.run(
        [sys.executable, "-m", "appliance.sync", "once"], cwd=ROOT, env=box_env(booted), capture_output=True, text=True
    )
    assert once.returncode == 4 and "locked" in once.stderr


def test_rebind_seals_a_passphrase_only_box_to_tang(tmp_path, tang):
    config = initialised(tmp_path)
    assert not (config.keys_dir / "data-key.jwe").exists()
    assert unlock.try_unlock(rebooted(config)) is None

    with_tang = config.with_overrides(tang_urls=(tang.url,))
    tang.stop()
    refused = appliance(with_tang, "keys", "rebind")
    assert refused.returncode == 4 and "previous sealing is kept" in refused.stderr
    assert not (config.keys_dir / "data-key.jwe").exists()

    tang.start()
    rebound = appliance(with_tang, "keys", "rebind")
    assert rebound.returncode == 0, rebound.stderr
    assert f"Tang {tang.url}" in rebound.stdout
    assert unlock.try_unlock(rebooted(with_tang, boot=3)) == data_key.recall(config)


def test_init_on_a_sealed_box_unlocks_it_and_keeps_the_key(tmp_path, tang):
    config = initialised(tmp_path, (tang.url,))
    jwe = (config.keys_dir / "data-key.jwe").read_bytes()
    again = appliance(rebooted(config), "init", "--admin-password", "admin-password-1")
    assert again.returncode == 0, again.stderr
    assert "box unlocked" in again.stdout and "already exists" in again.stdout
    assert (config.keys_dir / "data-key.jwe").read_bytes() == jwe


def test_keys_rotate_reseals_both_copies_under_the_new_key(tmp_path, tang):
    config = initialised(tmp_path, (tang.url,))
    before = data_key.recall(config)
    passphrase_file = str(tmp_path / "vault-recovery-passphrase")
    rotated = appliance(config, "keys", "rotate", "--recovery-passphrase-file", passphrase_file)
    assert rotated.returncode == 0, rotated.stderr
    after = data_key.recall(config)
    assert after.database != before.database and after.previous_database is None
    # After a power cut, Tang and the passphrase each give the new key, and the box opens with it.
    assert unlock.try_unlock(rebooted(config)) == after
    assert unlock.unlock_with_passphrase(rebooted(config, 3), PASSPHRASE) == after
    status = appliance(rebooted(config, 4), "status", "--json")
    assert status.returncode == 0, status.stderr


def test_init_generates_and_prints_the_passphrase_once_without_a_file(tmp_path):
    config = encrypted_config(tmp_path)
    done = appliance(config, "init", "--admin-password", "admin-password-1")
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if "recovery passphrase:" in line)
    passphrase = line.rsplit(": ", 1)[1]
    assert unlock.unlock_with_passphrase(rebooted(config), passphrase) == data_key.recall(config)
    assert "no pin" in done.stdout


def test_init_on_a_plain_box_seals_a_key_and_converts_it(tmp_path):
    config = encrypted_config(tmp_path)
    env = dict(box_env(config), APPLIANCE_ENCRYPTION="off")
    subprocess.run(
        [sys.executable, "-m", "appliance", "init", "--admin-password", "admin-password-1"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    assert config.database_path.read_bytes().startswith(b"SQLite format 3")
    converted = appliance(config, "init", "--admin-password", "admin-password-1")
    assert converted.returncode == 0, converted.stderr
    assert "the plain database is now encrypted" in converted.stdout
    assert unlock.is_sealed(config)
    assert not config.database_path.read_bytes().startswith(b"SQLite format 3")
    finished = appliance(config, "keys", "convert")
    assert finished.returncode == 0, finished.stderr
    assert "conversion finished" in finished.stdout
    again = appliance(config, "init", "--admin-password", "admin-password-1")
    assert "already exists" in again.stdout


def test_the_dashboard_says_a_plain_box_is_plain(admin_client):
    card = admin_client.get("/").get_data(as_text=True).split('id="sealing"')[1]
    assert "Plain: records on this box are not encrypted." in card
