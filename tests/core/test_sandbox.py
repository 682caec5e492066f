"""The sandbox runs a task in a real child process and turns each way of going over a limit into a reason."""

import os
import time

import pytest

from core.ingest.rasterize import Rejected
from core.ingest.sandbox import Budget, run

BUDGET = Budget(seconds=2, memory_mb=300)


def add(a: int, b: int) -> int:
    return a + b


def sleep_after_writing_pid(path: str) -> None:
    with open(path, "w") as out:
        out.write(str(os.getpid()))
    time.sleep(600)


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 2**20))


def fail() -> None:
    raise ValueError("the task's own error")


def crash() -> None:
    os.abort()


def test_the_result_comes_back_from_the_child():
    assert run(BUDGET, "adding", add, 2, 3) == 5


def test_a_task_over_the_time_limit_is_killed_with_the_reason(tmp_path):
    started = time.monotonic()
    with pytest.raises(Rejected, match="sleeping took longer than the 2 s limit"):
        run(BUDGET, "sleeping", sleep_after_writing_pid, str(tmp_path / "pid"))
    assert time.monotonic() - started < BUDGET.seconds + 3
    pid = int((tmp_path / "pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the child still runs after its time was up")


def test_a_task_over_the_memory_limit_is_refused_with_the_reason():
    with pytest.raises(Rejected, match="allocating needs more than the 300 MB memory limit"):
        run(BUDGET, "allocating", allocate, 1024)
    assert run(BUDGET, "allocating", allocate, 50) == 50 * 2**20


def test_the_task_s_own_error_is_raised_in_the_caller():
    with pytest.raises(ValueError, match="the task's own error"):
        run(BUDGET, "failing", fail)


def test_a_child_that_crashes_says_so():
    with pytest.raises(Rejected, match=r"crashing crashed the renderer \(SIGABRT\)"):
        run(BUDGET, "crashing", crash)
