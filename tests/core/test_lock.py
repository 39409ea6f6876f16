"""Inter-process locks: a second holder waits and says so; re-entrant in one process."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pitchprobe.core.lock import LockTimeout, file_lock

REPO = Path(__file__).resolve().parents[2]


def _hold(path: Path, seconds: float) -> subprocess.Popen:
    code = (
        "import sys, time\nfrom pitchprobe.core.lock import file_lock\n"
        "with file_lock(sys.argv[1], what='a test'):\n"
        "    print('held', flush=True); time.sleep(float(sys.argv[2]))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(path), str(seconds)], stdout=subprocess.PIPE, cwd=REPO)
    assert proc.stdout.readline().strip() == b"held"
    return proc


def test_a_second_process_waits_with_a_message_then_gets_the_lock(tmp_path, capsys):
    lock = tmp_path / "locks" / "x.lock"
    proc = _hold(lock, 1.5)
    t0 = time.monotonic()
    with file_lock(lock, what="labels of x"):
        waited = time.monotonic() - t0
    proc.wait()
    assert waited > 0.5
    err = capsys.readouterr().err
    assert "waiting for pid" in err and "labels of x" in err


def test_a_time_out_names_the_holder(tmp_path):
    lock = tmp_path / "x.lock"
    proc = _hold(lock, 5)
    with pytest.raises(LockTimeout, match=f"pid {proc.pid}"):
        with file_lock(lock, what="x", timeout=0.5, quiet=True):
            pass
    proc.kill()


def test_a_killed_holder_releases_the_lock(tmp_path):
    lock = tmp_path / "x.lock"
    proc = _hold(lock, 60)
    proc.kill()
    proc.wait()
    with file_lock(lock, what="x", timeout=5, quiet=True):
        pass


def test_the_lock_is_reentrant_in_one_process(tmp_path):
    lock = tmp_path / "x.lock"
    with file_lock(lock, what="x", timeout=1), file_lock(lock, what="x", timeout=1):
        pass
    with file_lock(lock, what="x", timeout=1):  # released after the outer block
        pass
