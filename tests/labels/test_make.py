"""The labelling run: killed workers, transient failures, concurrent runs, submitit jobs."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pitchprobe.core.audio import load_audio
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.layout import label_split_dir, label_timing_path
from pitchprobe.core.timing import label_timing_identity as _placed
from pitchprobe.data.fleurs import LocalSource, gather
from pitchprobe.data.manifest import read_manifest
from pitchprobe.labels.make import make_labels, moved_from
from pitchprobe.labels.pitch import PitchParams
from pitchprobe.labels.store import label_timing, read_labels
from pitchprobe.labels.trackers import track_placed

REPO = Path(__file__).resolve().parents[2]


def _gathered(tmp_path, corpus, table, code="zz_intonation", splits=("train", "dev", "test")) -> Path:
    root = tmp_path / "d"
    gather([table[code]], root=root, source=LocalSource(corpus), splits=splits)
    return root


def _same_labels(root, clean, code):
    for split in ("train", "dev", "test"):
        got, want = read_labels(root, code, split), read_labels(clean, code, split)
        assert got.keys() == want.keys()
        for k in want:
            assert got[k].status == "ok"
            np.testing.assert_array_equal(got[k].f0_hz, want[k].f0_hz)


def test_a_killed_worker_fails_its_utterance_only_and_a_rerun_retries_it(tmp_path, corpus, table, labelled):
    root = _gathered(tmp_path, corpus, table)
    kills = []

    def killer():
        for _ in range(50):  # kill busy workers a few times, early in the run
            time.sleep(0.15)
            alive = [p for p in multiprocessing.active_children() if p.is_alive()]
            if alive:
                os.kill(alive[0].pid, signal.SIGKILL)
                kills.append(alive[0].pid)
            if len(kills) >= 3:
                return

    thread = threading.Thread(target=killer)
    thread.start()
    s = make_labels("zz_intonation", root=root, jobs=2, progress=False)
    thread.join()
    died = [f for f in s.failed if f["reason"] == "worker_died"]
    assert kills and 1 <= len(died) <= len(kills)
    assert {f["reason"] for f in s.failed} == {"worker_died"}
    assert all("SIGKILL" in f["message"] for f in died)
    again = make_labels("zz_intonation", root=root, jobs=2, progress=False)
    assert again.retried == len(died) and again.computed == len(died) and not again.failed
    _same_labels(root, labelled, "zz_intonation")


def test_transient_failures_are_retried_and_permanent_ones_only_on_request(tmp_path, corpus, table):
    root = _gathered(tmp_path, corpus, table, splits=("test",))
    records = read_manifest(root, "zz_intonation")
    gone, bad = Path(records[0]["path"]), Path(records[1]["path"])
    shutil.move(gone, tmp_path / "away.wav")  # transient: the file is missing for this run
    good = bad.read_bytes()
    bad.write_bytes(b"RIFF garbage, not audio" * 4)  # permanent: a corrupt file
    first = make_labels("zz_intonation", root=root, splits=("test",), progress=False)
    assert sorted(f["reason"] for f in first.failed) == ["corrupt", "missing"]
    shutil.move(tmp_path / "away.wav", gone)
    bad.write_bytes(good)
    second = make_labels("zz_intonation", root=root, splits=("test",), progress=False)
    assert second.retried == 1 and second.computed == 1
    assert [f["reason"] for f in second.failed] == ["corrupt"], "a permanent failure is skipped by a plain rerun"
    third = make_labels("zz_intonation", root=root, splits=("test",), retry_failed=True, progress=False)
    assert third.retried == 1 and not third.failed
    labels = read_labels(root, "zz_intonation", "test")
    assert len(labels) == len(records) and all(lab.status == "ok" for lab in labels.values())


def test_out_of_memory_in_pyaapt_is_a_transient_failure(tmp_path, corpus, table):
    root = _gathered(tmp_path, corpus, table, splits=("test",))
    code = (
        "import sys; from pathlib import Path\n"
        "import amfm_decompy.pYAAPT as pyaapt\n"
        "def oom(*a, **k): raise MemoryError()\n"
        "pyaapt.yaapt = oom\n"  # the fault injected into pYAAPT, not into the code under test
        "from pitchprobe.labels.make import make_labels\n"
        f"s = make_labels('zz_intonation', root=Path({str(root)!r}), splits=('test',), jobs=1, progress=False)\n"
        "print(sorted({f['reason'] for f in s.failed}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "['out_of_memory']"
    # the calibration failed too (placed by the rule alone), and now succeeds: a store of failed rows sits
    # nowhere, so its rows are simply retried where they are placed now
    failed_timing = label_timing(root, "zz_intonation")
    assert failed_timing["measured"] is False and failed_timing["applied_offset_samples"] == 0
    label_timing_path(root, "zz_intonation", tracker="pyaapt").write_text('{"applied_offset_samples": 7}')
    again = make_labels("zz_intonation", root=root, splits=("test",), progress=False)
    assert again.retried == again.total and not again.failed
    timing = label_timing(root, "zz_intonation")
    assert "by_register" in timing and moved_from(root, "zz_intonation", PitchParams(), _placed(timing)) is None
    records = {r["id"]: r for r in read_manifest(root, "zz_intonation")}
    for lab in read_labels(root, "zz_intonation", "test").values():
        wav = load_audio(records[lab.id]["path"])
        placed = track_placed("pyaapt", wav).offset_samples
        assert (
            lab.first_centre_samples == PitchParams().first_centre_samples() + placed + timing["applied_offset_samples"]
        )


def test_labels_stored_before_timings_were_measured_sit_at_the_nominal_centres(tmp_path, corpus, table):
    root = _gathered(tmp_path, corpus, table, splits=("test",))
    make_labels("zz_intonation", root=root, splits=("test",), progress=False)
    now = _placed(label_timing(root, "zz_intonation"))
    label_timing_path(root, "zz_intonation", tracker="pyaapt").unlink()  # as a store of before timings
    assert moved_from(root, "zz_intonation", PitchParams(), now) == {"placement": "fixed", "offset_samples": 0}
    with pytest.raises(
        PitchProbeError,
        match="placed at the nominal centres \\+ 0 samples, but pyaapt is now placed by rule pyaapt-window",
    ):
        make_labels("zz_intonation", root=root, splits=("test",), progress=False)
    make_labels("zz_intonation", root=root, splits=("test",), overwrite=True, progress=False)
    assert moved_from(root, "zz_intonation", PitchParams(), now) is None


def test_two_concurrent_runs_give_one_set_of_rows(tmp_path, corpus, table):
    import pyarrow.parquet as pq

    root = _gathered(tmp_path, corpus, table)
    code = (
        "from pathlib import Path; from pitchprobe.labels.make import make_labels\n"
        f"s = make_labels('zz_intonation', root=Path({str(root)!r}), jobs=1, progress=False)\n"
        "print(s.computed, s.already_done)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    total = len(read_manifest(root, "zz_intonation"))
    done = sorted(tuple(map(int, out.split())) for out, _ in outs)
    assert done == [(0, total), (total, 0)], "the second run waited, then found everything done"
    assert any("waiting for" in err for _, err in outs)
    rows = sum(
        pq.read_table(p).num_rows
        for split in ("train", "dev", "test")
        for p in label_split_dir(root, "zz_intonation", split).glob("part-*.parquet")
    )
    assert rows == total


def test_stale_temporary_parts_are_cleaned_and_never_read(tmp_path, corpus, table):
    root = _gathered(tmp_path, corpus, table, splits=("test",))
    split_dir = label_split_dir(root, "zz_intonation", "test")
    split_dir.mkdir(parents=True)
    stale = split_dir / ".part-00000000000000000001-1.parquet.x1y2.tmp.parquet"
    stale.write_bytes(b"PAR1 half a file")
    assert read_labels(root, "zz_intonation", "test") == {}
    make_labels("zz_intonation", root=root, splits=("test",), progress=False)
    assert not stale.exists()


def _label_job(root: str, code: str) -> int:
    s = make_labels(code, root=Path(root), jobs=2, overwrite=True, splits=("test",), progress=False)
    return s.computed


@pytest.mark.slow
def test_labelling_inside_submitit_jobs_never_hangs(tmp_path, corpus, table):
    submitit = pytest.importorskip("submitit")
    root = _gathered(tmp_path, corpus, table, splits=("test",))
    total = len(read_manifest(root, "zz_intonation"))
    ex = submitit.LocalExecutor(folder=tmp_path / "logs")
    ex.update_parameters(timeout_min=5)
    for repeat in range(10):
        job = ex.submit(_label_job, str(root), "zz_intonation")
        deadline = time.monotonic() + 120
        while not job.done():
            if time.monotonic() > deadline:
                job.cancel()
                pytest.fail(f"submitit job {repeat} hung")
            time.sleep(0.2)
        assert job.result() == total
