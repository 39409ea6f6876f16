"""The label pool survives its workers: deaths, hangs, exceptions, memory budget, signals."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from pitchprobe.labels.pool import Task, TaskFailure, run_tasks


def _work(kind: str, log: str | None = None) -> str:
    """A task: ``ok``, ``die`` (SIGKILL itself, as the OOM killer does), ``hang``, ``raise`` or ``sleep``."""
    if log:
        with open(log, "a") as f:
            f.write(f"start {kind} {time.monotonic()}\n")
    if kind == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "hang":
        time.sleep(3600)
    if kind == "raise":
        raise ValueError("a bug in the task")
    if kind.startswith("sleep"):
        time.sleep(0.3)
    if log:
        with open(log, "a") as f:
            f.write(f"end {kind} {time.monotonic()}\n")
    return f"done {kind}"


def test_dead_stuck_and_failing_workers_fail_only_their_task():
    kinds = ["ok", "die", "ok", "hang", "ok", "raise", "ok", "die", "ok"]
    tasks = [Task(key=f"{i}-{k}", args=(k,), time_limit=2.0 if k == "hang" else 30.0) for i, k in enumerate(kinds)]
    t0 = time.monotonic()
    got = dict((t.key, out) for t, out in run_tasks(_work, tasks, jobs=2))
    assert time.monotonic() - t0 < 20, "no hang: the stuck task is killed at its time limit"
    assert sorted(got) == sorted(t.key for t in tasks)  # every task reported once
    for key, out in got.items():
        kind = key.split("-", 1)[1]
        if kind == "ok":
            assert out == "done ok"
        else:
            assert isinstance(out, TaskFailure)
            assert out.reason == {"die": "worker_died", "hang": "timeout", "raise": "internal_error"}[kind]
    assert "SIGKILL" in got["1-die"].message
    assert "ValueError: a bug in the task" in got["5-raise"].message


def test_memory_budget_keeps_big_tasks_apart(tmp_path):
    log = tmp_path / "log.txt"
    tasks = [Task(key=str(i), args=("sleep", str(log)), memory=600.0) for i in range(4)]
    outs = [out for _, out in run_tasks(_work, tasks, jobs=4, memory_budget=1000.0)]
    assert outs == ["done sleep"] * 4
    events = sorted((float(t), what) for what, _, t in (line.split() for line in log.read_text().splitlines()))
    depth, most = 0, 0
    for _, what in events:
        depth += 1 if what == "start" else -1
        most = max(most, depth)
    assert most == 1, "two tasks of 600 never ran together under a budget of 1000"
    small = [Task(key=str(i), args=("sleep", str(tmp_path / "small.txt")), memory=100.0) for i in range(4)]
    list(run_tasks(_work, small, jobs=4, memory_budget=1000.0))
    starts = [float(line.split()[2]) for line in (tmp_path / "small.txt").read_text().splitlines() if "start" in line]
    assert max(starts) - min(starts) < 0.3, "small tasks ran side by side"


def test_one_task_always_runs_even_over_budget():
    got = [out for _, out in run_tasks(_work, [Task("big", ("ok",), memory=1e18), Task("b", ("ok",))], jobs=2)]
    assert got == ["done ok", "done ok"]


def test_workers_are_gone_after_the_caller_stops_early():
    import multiprocessing

    tasks = [Task(str(i), ("hang",), time_limit=60) for i in range(3)] + [Task("x", ("ok",))]
    gen = run_tasks(_work, [Task("first", ("ok",)), *tasks], jobs=2)
    t0 = time.monotonic()
    first = next(gen)
    gen.close()  # as a fail-fast raise or Ctrl-C in the caller does
    assert first[1] == "done ok"
    assert time.monotonic() - t0 < 10
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_labelling_at_once_without_worker_tracebacks(tmp_path, sig):
    import subprocess
    import sys

    code = (
        "import sys, time\n"
        "from pitchprobe.labels.pool import Task, run_tasks\n"
        "from tests.labels.test_pool import _work\n"
        "try:\n"
        "    for _ in run_tasks(_work, [Task(str(i), ('hang',)) for i in range(4)], jobs=2):\n"
        "        pass\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', file=sys.stderr); sys.exit(130)\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=root, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)  # the workers are running their tasks
    t0 = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert time.monotonic() - t0 < 10
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert err.strip().splitlines() == ["interrupted"]


def _signal_dispositions(_: str) -> tuple:
    return (
        signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
        signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL,
        signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
    )


def test_workers_drop_handlers_inherited_from_a_job_runner():
    """As under submitit, whose job process bypasses SIGTERM and checkpoints on SIGUSR2."""
    seen = []

    def bypass(signum, frame):
        seen.append(signum)

    old = {s: signal.signal(s, bypass) for s in (signal.SIGTERM, signal.SIGUSR2)}
    try:
        got = [out for _, out in run_tasks(_signal_dispositions, [Task(str(i), ("x",)) for i in range(4)], jobs=2)]
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    assert got == [(True, True, True)] * 4
    assert seen == []
