"""The web secret key generated on first start: every web worker starting at once must get the same one."""

import multiprocessing
import stat

from core.web.security import secret_key_for

WORKERS = 12
ROUNDS = 5


def _start_worker(data_dir, barrier, keys):
    barrier.wait()  # all at once, like gunicorn forking its workers on a fresh box
    keys.put(secret_key_for(None, data_dir))


def test_web_workers_starting_at_once_on_an_empty_data_dir_share_one_key(tmp_path):
    context = multiprocessing.get_context("fork")
    for attempt in range(ROUNDS):
        data_dir = tmp_path / f"data-{attempt}"
        barrier, keys = context.Barrier(WORKERS), context.Queue()
        workers = [context.Process(target=_start_worker, args=(data_dir, barrier, keys)) for _ in range(WORKERS)]
        for worker in workers:
            worker.start()
        found = [keys.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
        assert len(set(found)) == 1 and len(found[0]) == 64
        key_file = data_dir / "web-secret-key"
        assert key_file.read_text().strip() == found[0]
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert [path.name for path in data_dir.iterdir()] == ["web-secret-key"]


def test_a_configured_key_is_used_as_it_is(tmp_path):
    assert secret_key_for("configured", tmp_path / "data") == "configured"
    assert not (tmp_path / "data").exists()
