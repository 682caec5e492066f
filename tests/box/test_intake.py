"""Taking files in: durable store first, duplicates recorded once, links and odd files refused."""

import hashlib
import os

import pytest

from appliance.ingest.intake import accept_file, store_path
from appliance.models import AuditEvent, Job, Quarantine, Scan


def drop(box, name, data=b"%PDF-1.4 test\n%%EOF\n"):
    path = box.inbox / name
    path.write_bytes(data)
    return path


def test_file_is_stored_by_hash_recorded_with_a_job_then_removed(box):
    path = drop(box, "scan001.pdf")
    intake = accept_file(path, box)
    sha = hashlib.sha256(b"%PDF-1.4 test\n%%EOF\n").hexdigest()
    assert intake.outcome == "new" and intake.scan.sha256 == sha
    assert store_path(box, sha).read_bytes() == b"%PDF-1.4 test\n%%EOF\n"
    assert not path.exists()
    assert Job.get(Job.scan == intake.scan).state == "pending"
    assert AuditEvent.select().where(AuditEvent.action == "scan.receive").count() == 1


def test_same_content_dropped_twice_is_recorded_once_as_duplicate(box):
    first = accept_file(drop(box, "a.pdf"), box)
    second = accept_file(drop(box, "copy of a.pdf"), box)
    assert second.outcome == "duplicate" and second.scan.duplicate_of_id == first.scan.id
    assert Job.select().count() == 1
    assert Scan.get_by_id(second.scan.id).status == "duplicate"


def test_a_file_seen_again_after_a_crash_before_removal_is_not_recorded_twice(box):
    path = drop(box, "scan.pdf")
    kept = box.data_dir / "kept"
    os.link(path, kept)
    accept_file(path, box)
    os.link(kept, path)
    again = accept_file(path, box)
    assert again.outcome == "already_recorded"
    assert Scan.select().count() == 1 and not path.exists()


def test_symlink_is_quarantined_never_followed(box, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    link = box.inbox / "passwd.pdf"
    link.symlink_to(secret)
    intake = accept_file(link, box)
    assert intake.outcome == "quarantined" and "symbolic link" in intake.reason
    assert not os.path.lexists(link) and secret.exists()
    assert Scan.select().count() == 0
    assert Quarantine.get().reason.startswith("symbolic link")
    assert not any(p.is_file() and p.read_bytes() == b"root:x:0:0" for p in box.store_dir.rglob("*"))


def test_fifo_is_quarantined_without_blocking(box):
    fifo = box.inbox / "pipe.pdf"
    os.mkfifo(fifo)
    assert accept_file(fifo, box).reason.startswith("not a regular file")


@pytest.mark.parametrize("name", ["scan ünïcödé — 12 (copy).pdf", "x" * 250 + ".pdf", "new\nline.pdf", "-rf.pdf"])
def test_odd_and_very_long_names_are_kept_as_given(box, name):
    intake = accept_file(drop(box, name), box)
    assert Scan.get_by_id(intake.scan.id).original_name == name
