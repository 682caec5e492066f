"""The command line as an operator uses it."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.factories import record_lines, render_page, save_image

ROOT = Path(__file__).resolve().parents[2]


def cli(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "appliance", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_init_prints_a_generated_password_once_and_is_safe_to_rerun(tmp_path):
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(tmp_path / "box"))
    first = cli(env, "init")
    assert first.returncode == 0 and "with password: " in first.stdout
    again = cli(env, "init")
    assert again.returncode == 0 and "already exists" in again.stdout and "password:" not in again.stdout
    assert (tmp_path / "box" / "appliance.db").exists() and (tmp_path / "box" / "inbox").is_dir()


def test_init_with_a_given_password_and_a_too_short_one(tmp_path):
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(tmp_path / "box"))
    short = cli(env, "init", "--admin-password", "short")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr and "Traceback" not in short.stderr
    given = cli(env, "init", "--admin-password", "correct horse battery")
    assert given.returncode == 0 and "correct horse" not in given.stdout


def test_bad_configuration_is_a_clear_error(tmp_path):
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(tmp_path / "box"), APPLIANCE_OCR_PROCESSES="many")
    result = cli(env, "status")
    assert result.returncode == 2 and "APPLIANCE_OCR_PROCESSES must be a whole number" in result.stderr
    env.update(APPLIANCE_OCR_PROCESSES="1", APPLIANCE_DOC_TYPE_RULES=str(tmp_path / "missing.json"))
    result = cli(env, "process", str(ROOT / "README.md"))
    assert result.returncode == 2 and "APPLIANCE_DOC_TYPE_RULES" in result.stderr


def test_process_reports_quarantine_in_json_and_status_counts_it(tmp_path):
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(tmp_path / "box"), APPLIANCE_OCR_PROCESSES="1")
    notes = tmp_path / "notes.pdf"
    notes.write_text("not a pdf at all\n")
    result = cli(env, "process", "--json", str(notes))
    row = json.loads(result.stdout)
    assert row["status"] == "quarantined" and row["reason"].startswith("not a scan")
    assert row["sha256"] and row["document_id"] is None
    assert notes.exists()
    status = json.loads(cli(env, "status", "--json").stdout)
    assert status["quarantine_open"] == 1 and status["queue_depth"] == 0


def test_search_explains_an_empty_query(tmp_path):
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(tmp_path / "box"))
    result = cli(env, "search", "  ...  ")
    assert result.returncode == 2 and "at least one word" in result.stderr


def test_without_tesseract_the_worker_stops_at_start_up_and_no_scan_is_quarantined(tmp_path):
    python_only = tmp_path / "bin"
    python_only.mkdir()
    (python_only / "python").symlink_to(sys.executable)
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(tmp_path / "box"), APPLIANCE_OCR_PROCESSES="1", PATH=str(python_only))
    result = cli(env, "worker")
    assert result.returncode == 3
    assert "Tesseract is not installed" in result.stderr and "Traceback" not in result.stderr
    scan = save_image(render_page(record_lines(), noise=0), tmp_path / "scan.png", "PNG")
    result = cli(env, "process", str(scan))
    assert result.returncode == 3 and "Tesseract is not installed" in result.stderr
    status = json.loads(cli(dict(env, PATH=os.environ["PATH"]), "status", "--json").stdout)
    assert status["quarantine_open"] == 0 and status["queue_depth"] == 1


def test_init_with_a_password_file_generates_it_once_and_prints_no_password(tmp_path):
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(tmp_path / "box"))
    secret = tmp_path / "admin-password"
    first = cli(env, "init", "--admin-password-file", str(secret))
    password = secret.read_text().strip()
    assert first.returncode == 0 and password and password not in first.stdout
    assert oct(secret.stat().st_mode & 0o777) == "0o600"
    again = cli(env, "init", "--admin-password-file", str(secret))
    assert again.returncode == 0 and "already exists" in again.stdout and secret.read_text().strip() == password
