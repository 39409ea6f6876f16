"""A process pool for per-file work that survives its workers: no hangs, whatever a worker does.

:func:`run_tasks` runs ``func(*task.args)`` for every :class:`Task` in worker
processes and yields ``(task, outcome)`` as each finishes, where ``outcome``
is ``func``'s return value or a :class:`TaskFailure`:

- a worker that dies (the out-of-memory killer, a crash in native code) fails
  only its task, with reason ``worker_died``, and is replaced;
- a task running past its time limit (scaled to its audio duration) is
  killed, fails with reason ``timeout``, and its worker is replaced;
- an exception that escapes ``func`` fails its task with reason ``internal_error``;
- tasks start only while the estimated memory of those running fits the
  budget (a measured bytes-per-audio-second figure against available RAM),
  so long files do not run side by side into swap or the OOM killer;
  one task always runs, whatever its size.

Workers reset every signal handler they inherit (submitit installs its own
for SIGTERM and SIGUSR2, which made ``multiprocessing.Pool.terminate`` block)
and ignore SIGINT, so that Ctrl-C reaches only the parent, which kills them:
shutdown takes at most a few seconds and prints no worker tracebacks. On
Linux each worker also dies with its parent (``PR_SET_PDEATHSIG``), so a
cancelled job leaves no worker behind (elsewhere a worker ends at its next task). Fork is used where the platform has
it: workers start at once and callers need no ``__main__`` guard.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.interrupt import sigterm_as_interrupt

JOIN_SECONDS = 2.0  # s, a stopping worker's grace before SIGKILL
WAKE_SECONDS = 1.0  # s, longest sleep of the parent between checks
MEMORY_FRACTION = 0.8  # of the RAM available at the start, shared by the running tasks


@dataclass(frozen=True)
class Task:
    """One unit of work: ``func(*args)``, with what the pool needs to schedule and bound it.

    Attributes
    ----------
    key : str
        Names the task in failures.
    args : tuple
    time_limit : float or None
        s; the task is killed after this long.
    memory : float
        Estimated peak bytes of the task, for the memory budget.
    """

    key: str
    args: tuple
    time_limit: float | None = None
    memory: float = 0.0


@dataclass(frozen=True)
class TaskFailure:
    """A task that produced no result: ``reason`` is ``worker_died``, ``timeout`` or ``internal_error``."""

    reason: str
    message: str


def _cgroup_headroom() -> float:
    """Bytes this process's cgroup (v2: a SLURM job's, a container's) may still use; inf without a limit."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/cgroup", encoding="ascii") as f:
            rel = next(line.split(":", 2)[2].strip() for line in f if line.startswith("0::"))
        group = Path(f"/sys/fs/cgroup{rel}")
        limit = (group / "memory.max").read_text(encoding="ascii").strip()
        if limit != "max":
            used = float((group / "memory.current").read_text(encoding="ascii"))
            return max(0.0, float(limit) - used)
    return float("inf")


def available_memory() -> float:
    """Bytes of RAM available now: the node's ``MemAvailable``, or less where a cgroup limit says so."""
    node = float("inf")
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo", encoding="ascii") as f:
            node = next(float(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    if node == float("inf"):
        with contextlib.suppress(ValueError, OSError, AttributeError):
            node = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    return min(node, _cgroup_headroom())


def available_cpus() -> int:
    """Cores this process may run on: its CPU affinity (what SLURM's ``--cpus-per-task`` sets), else all."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _reset_signals() -> None:
    for sig in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError, TypeError):
            if callable(signal.getsignal(sig)):  # a Python handler inherited from the parent (submitit's, ours)
                signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _worker(conn, func: Callable, parent: int) -> None:
    _reset_signals()
    _die_with_parent(parent)
    while True:
        try:
            args = conn.recv()
        except (EOFError, OSError):
            return
        if args is None:
            return
        try:
            out = ("ok", func(*args))
        except Exception as e:  # noqa: BLE001 - reported to the parent as this task's failure
            out = ("error", f"{type(e).__name__}: {e}")
        try:
            conn.send(out)
        except (OSError, ValueError):
            return


class _Slot:
    """One worker process and the task it runs."""

    def __init__(self, ctx, func: Callable):
        parent, child = ctx.Pipe()
        self.conn = parent
        self.proc = ctx.Process(target=_worker, args=(child, func, os.getpid()), daemon=True)
        self.proc.start()
        child.close()
        self.task: Task | None = None
        self.deadline = float("inf")

    def give(self, task: Task) -> None:
        self.task = task
        self.deadline = time.monotonic() + task.time_limit if task.time_limit else float("inf")
        self.conn.send(task.args)

    def stop(self, *, kill: bool) -> None:
        with contextlib.suppress(OSError, ValueError):
            if kill:
                self.proc.kill()
            else:
                self.conn.send(None)
        self.proc.join(0 if kill else JOIN_SECONDS)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(JOIN_SECONDS)
        self.conn.close()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else str(-exitcode)
        hint = " (the out-of-memory killer?)" if -exitcode == signal.SIGKILL else ""
        return f"the label worker was killed by {name}{hint}"
    return f"the label worker exited with code {exitcode}"


def run_tasks(
    func: Callable,
    tasks: Iterable[Task],
    *,
    jobs: int,
    memory_budget: float | None = None,
    start_method: str | None = None,
) -> Iterator[tuple[Task, object]]:
    """Run ``func(*task.args)`` for each task; yield ``(task, result or TaskFailure)`` as each finishes.

    Parameters
    ----------
    func : callable
        Module-level (picklable where fork is not available).
    tasks : iterable of Task
        Started in this order.
    jobs : int
        Worker processes (at least one, however many tasks there are).
    memory_budget : float or None
        Bytes the running tasks' ``memory`` may add up to; default
        ``MEMORY_FRACTION`` of the RAM available now.
    start_method : str or None
        ``fork`` (default where available), ``forkserver`` or ``spawn``.
    """
    pending = deque(tasks)
    if not pending:
        return
    method = start_method or ("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    ctx = multiprocessing.get_context(method)
    budget = MEMORY_FRACTION * available_memory() if memory_budget is None else memory_budget
    slots = [_Slot(ctx, func) for _ in range(max(1, min(jobs, len(pending))))]
    try:
        with sigterm_as_interrupt():
            yield from _drive(ctx, func, slots, pending, budget)
    finally:
        for slot in slots:
            slot.stop(kill=slot.task is not None)


def _drive(ctx, func, slots: list[_Slot], pending: deque, budget: float) -> Iterator[tuple[Task, object]]:
    while pending or any(s.task is not None for s in slots):
        running = sum(s.task.memory for s in slots if s.task is not None)
        for i, slot in enumerate(slots):
            if slot.task is None and pending:
                task = pending[0]
                if running and running + task.memory > budget:
                    break  # wait for memory; tasks keep their order
                pending.popleft()
                try:
                    slot.give(task)
                except OSError:  # the worker died while idle: replace it, and give the task to the new one
                    slot.stop(kill=True)
                    slots[i] = slot = _Slot(ctx, func)
                    slot.give(task)
                running += task.memory
        busy = [s for s in slots if s.task is not None]
        if not busy:
            raise PitchProbeError("the label pool has tasks but cannot start any")  # unreachable by construction
        timeout = max(0.0, min(WAKE_SECONDS, min(s.deadline for s in busy) - time.monotonic()))
        ready = set(wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout=timeout))
        now = time.monotonic()
        for i, slot in enumerate(slots):
            task = slot.task
            if task is None:
                continue
            outcome = None
            if slot.conn in ready:
                try:
                    status, value = slot.conn.recv()
                    outcome = value if status == "ok" else TaskFailure("internal_error", value)
                except (EOFError, OSError):
                    slot.proc.join(JOIN_SECONDS)
                    outcome = TaskFailure("worker_died", _death(slot.proc.exitcode))
            elif slot.proc.sentinel in ready:
                slot.proc.join(JOIN_SECONDS)
                outcome = TaskFailure("worker_died", _death(slot.proc.exitcode))
            elif now >= slot.deadline:
                outcome = TaskFailure("timeout", f"no result after {task.time_limit:.0f} s; the worker was killed")
            if outcome is None:
                continue
            slot.task = None
            if isinstance(outcome, TaskFailure) and outcome.reason in ("worker_died", "timeout"):
                slot.stop(kill=True)
                slots[i] = _Slot(ctx, func)
            yield task, outcome


__all__ = ["Task", "TaskFailure", "available_cpus", "available_memory", "run_tasks"]
