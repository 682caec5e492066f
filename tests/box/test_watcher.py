"""The inbox watcher: waits for stable files, ignores litter, never misses a file."""

import time

import pytest

from appliance.ingest.watcher import InboxWatcher, is_ignored
from appliance.models import Scan


@pytest.mark.parametrize(
    "name", [".DS_Store", "Thumbs.db", "~$report.docx", "scan.tmp", "._scan.pdf", "scan.pdf.part", ".scan.pdf.Xa9"]
)
def test_litter_and_temp_files_are_ignored(name):
    assert is_ignored(name)


@pytest.mark.parametrize("name", ["scan.pdf", "IMG_0001.JPG", "report~1.tif"])
def test_real_scans_are_not_ignored(name):
    assert not is_ignored(name)


def poll_until(watcher, seconds):
    deadline, ready = time.monotonic() + seconds, []
    while time.monotonic() < deadline and not ready:
        ready = watcher.ready()
        time.sleep(0.1)
    return ready


@pytest.mark.parametrize("polling", [False, True])
def test_slowly_written_file_is_handed_on_only_once_stable(box, polling):
    watcher = InboxWatcher(box.with_overrides(watch_polling=polling, stable_seconds=1.0))
    watcher.start()
    try:
        target = box.inbox / "slow.pdf"
        with open(target, "wb") as handle:
            for _ in range(8):
                handle.write(b"x" * 4096)
                handle.flush()
                time.sleep(0.3)
                assert watcher.ready() == []
        assert poll_until(watcher, 10) == [target]
    finally:
        watcher.stop()


def test_rescan_finds_files_in_subfolders_that_no_event_reported(box):
    watcher = InboxWatcher(box)
    sub = box.inbox / "ward 3"
    sub.mkdir()
    (sub / "late.pdf").write_bytes(b"%PDF")
    (sub / "Thumbs.db").write_bytes(b"junk")
    watcher.rescan()
    assert poll_until(watcher, 10) == [sub / "late.pdf"]


def test_empty_file_waits_for_its_grace_period(box):
    watcher = InboxWatcher(box.with_overrides(empty_grace_seconds=2.0, stable_seconds=0.2))
    (box.inbox / "empty.pdf").write_bytes(b"")
    watcher.rescan()
    started = time.monotonic()
    assert poll_until(watcher, 10) == [box.inbox / "empty.pdf"]
    assert time.monotonic() - started >= 1.8


def test_a_nearly_full_disk_pauses_intake_and_the_files_wait_whole_in_the_inbox(box, users):
    from appliance.ingest.worker import take_in_ready_files
    from appliance.web import create_app
    from tests.conftest import sign_in

    full = box.with_overrides(min_free_mb=10**12, stable_seconds=0)
    scan = box.inbox / "scan.png"
    scan.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 1000)
    watcher = InboxWatcher(full)
    watcher.rescan()
    assert take_in_ready_files(watcher, full) == 0
    assert scan.exists() and scan.stat().st_size == 1008 and Scan.select().count() == 0
    client = create_app(full).test_client()
    sign_in(client, "bob")
    assert "The data disk is nearly full" in client.get("/").get_data(as_text=True)
    room = box.with_overrides(stable_seconds=0)
    assert sum(take_in_ready_files(watcher, room) for _ in range(3)) == 1 and not scan.exists()
