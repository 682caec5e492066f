"""Run work on an untrusted file (opening a PDF, rendering a page) in a throw-away child process
with a wall-clock limit and an address-space limit.

pdfium is C: a Python timer (signal.alarm) cannot interrupt a render that is inside one C call,
and its allocations never raise MemoryError, so only the kernel's bounds hold: a child process,
`setrlimit(RLIMIT_AS)` applied inside it, and SIGKILL from the parent when the time is up. The
child comes from the forkserver (never forked from a threaded web worker), does one task and
exits, so a renderer that was killed or bloated is never used again.
"""

from __future__ import annotations

import math
import multiprocessing
import resource
import signal
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from .rasterize import Rejected

T = TypeVar("T")
# Modules the forkserver imports once, so that each child starts already holding pdfium and Pillow
# (and the main module, which a child would otherwise import again as `__mp_main__`).
PRELOAD = ["__main__", "core.ingest.views"]
START_SECONDS = 30  # a busy box can take seconds to start the forkserver; that is not the file's time
EXIT_GRACE_SECONDS = 5
MB = 1024 * 1024


@dataclass(frozen=True)
class Budget:
    """What one task on an untrusted file may take: wall-clock seconds and address space in MB."""

    seconds: float
    memory_mb: int

    def too_slow(self, task: str) -> str:
        return f"{task} took longer than the {self.seconds:g} s limit"

    def too_big(self, task: str) -> str:
        return f"{task} needs more than the {self.memory_mb} MB memory limit"


def limit_memory(memory_mb: int, hard: bool = False) -> None:
    """Cap this process's address space at `memory_mb` (soft only unless `hard`, so it can be lowered again)."""
    limit = memory_mb * MB
    _, current_hard = resource.getrlimit(resource.RLIMIT_AS)
    if current_hard != resource.RLIM_INFINITY:
        limit = min(limit, current_hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit if hard else current_hard))


def _child(writer: Connection, budget: Budget, func: Callable[..., Any], args: tuple) -> None:
    limit_memory(budget.memory_mb, hard=True)
    # A backstop for a child whose parent died before it could kill it: CPU time never runs ahead
    # of wall-clock time for a single-threaded renderer, so the parent's deadline comes first.
    cpu = math.ceil(budget.seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    writer.send(("ready",))
    try:
        outcome: tuple = ("done", func(*args))
    except MemoryError:
        outcome = ("memory",)
    except BaseException as error:  # every failure goes back to the parent, to be raised there
        outcome = ("raised", error)
    try:
        writer.send(outcome)
    except MemoryError:
        writer.send(("memory",))
    except Exception as error:  # an exception that does not pickle still has to say what it was
        writer.send(("raised", RuntimeError(f"{type(error).__name__}: {error}")))
    writer.close()


def run(budget: Budget, task: str, func: Callable[..., T], *args: Any) -> T:
    """`func(*args)` in a fresh child within `budget`; its result, or Rejected naming the limit `task` hit.

    `func` and its arguments must pickle (a module-level function); exceptions it raises are raised here.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(writer, budget, func, args), daemon=True)
    child.start()
    writer.close()
    outcome: tuple | None = None
    try:
        if not reader.poll(START_SECONDS):
            raise RuntimeError(f"the sandbox for {task} did not start within {START_SECONDS} s")
        try:
            reader.recv()
            if not reader.poll(budget.seconds):
                raise Rejected(budget.too_slow(task))
            outcome = reader.recv()
        except EOFError:
            outcome = None
    finally:
        # Also on the way out of an exception raised while waiting (a job timeout, a shutdown).
        reader.close()
        if outcome is None and child.is_alive():
            child.kill()
        child.join(EXIT_GRACE_SECONDS)
        if child.is_alive():
            child.kill()
            child.join()
    if outcome is None:
        raise Rejected(_death(budget, task, child.exitcode))
    if outcome[0] == "memory":
        raise Rejected(budget.too_big(task))
    if outcome[0] == "raised":
        raise outcome[1]
    return outcome[1]


def _death(budget: Budget, task: str, exitcode: int | None) -> str:
    """Why a child that sent nothing back ended, in plain words."""
    if exitcode == -signal.SIGXCPU:
        return budget.too_slow(task)
    if exitcode == -signal.SIGKILL:
        # Not our kill (that only follows a timeout, raised above): the kernel's out-of-memory killer.
        return budget.too_big(task)
    if exitcode is not None and exitcode < 0:
        return f"{task} crashed the renderer ({signal.Signals(-exitcode).name})"
    return f"{task} stopped the renderer (exit status {exitcode})"
