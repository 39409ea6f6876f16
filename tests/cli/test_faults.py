"""Faults as a user meets them on the command line: one line each, exit codes that tell the truth."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pitchprobe.core.layout import manifest_path
from pitchprobe.data.synth import write_corpus

pytestmark = pytest.mark.slow  # every test here runs the scripts in subprocesses

REPO = Path(__file__).resolve().parents[2]


def run(script, *args, env=None):
    return subprocess.run(
        [sys.executable, str(REPO / script), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=None if env is None else {**os.environ, **env},
    )


OFFLINE_LIMIT_S = 20.0  # s: an offline run must say so well before this


def offline_run(script, *args, env=None):
    """``run``, timed: (result, seconds)."""
    start = time.monotonic()
    r = run(script, *args, env=env)
    return r, time.monotonic() - start


def assert_one_offline_message(r, seconds):
    assert seconds < OFFLINE_LIMIT_S, seconds
    assert r.returncode not in (0, 1) and "Traceback" not in r.stderr + r.stdout, r.stderr
    assert "--source DIR" in r.stderr and "HF_ENDPOINT" in r.stderr
    assert r.stderr.count("--source") == 1 and "Retrying" not in r.stderr  # one message, no retries


def test_an_offline_dry_run_fails_fast_and_names_source(tmp_path):
    from pitchprobe.data.sources import hub_unreachable

    if hub_unreachable("https://huggingface.co") is None:
        pytest.skip("the Hugging Face Hub is reachable from here: not offline")
    r, seconds = offline_run("gather_data.py", "en_us", "--dry-run", "--data-dir", tmp_path / "d", "-q")
    assert_one_offline_message(r, seconds)


def test_an_unreachable_hub_endpoint_fails_fast_anywhere(tmp_path):
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "0"}  # the discard port: nothing listens
    r, seconds = offline_run("gather_data.py", "en_us", "--dry-run", "--data-dir", tmp_path / "d", "-q", env=env)
    assert_one_offline_message(r, seconds)
    r, seconds = offline_run("make_pitch_data.py", "yo_ng", "--data-dir", tmp_path / "d", "-q", env=env)
    assert_one_offline_message(r, seconds)
    r, seconds = offline_run(
        "make_pitch_data.py", "yo_ng", "--data-dir", tmp_path / "d", "-q", env={"HF_HUB_OFFLINE": "1"}
    )
    assert_one_offline_message(r, seconds)


def test_a_language_never_gathered_says_each_problem_once(tmp_path):
    empty = tmp_path / "empty_source"
    (empty / "data").mkdir(parents=True)
    r = run("make_pitch_data.py", "yo_ng", "--source", empty, "--data-dir", tmp_path / "d", "-q")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    out = r.stdout + r.stderr
    for split in ("train", "dev", "test"):
        assert out.count(f"{split}.tsv") == 1, out
    assert "1 of 1 languages produced no labels" in out


@pytest.fixture
def gathered(tmp_path, corpus, labelled):
    """A fresh data root holding two gathered and labelled languages (copied from the session's)."""
    root = tmp_path / "data"
    shutil.copytree(labelled, root)
    for p in (root / "manifests").glob("*.jsonl"):  # the manifests' audio paths point into the original root
        p.write_text(p.read_text().replace(str(labelled), str(root)))
    return root, ["--data-dir", root, "--languages", corpus / "languages.tsv", "-q"]


def test_gather_exits_non_zero_when_a_requested_language_failed(tmp_path, corpus):
    empty = tmp_path / "empty_source"
    (empty / "data").mkdir(parents=True)
    common = ["--data-dir", tmp_path / "d", "--languages", corpus / "languages.tsv", "-q"]
    r = run("gather_data.py", "zz_level", "--source", empty, *common)
    assert r.returncode == 1
    assert "1 of 1 languages produced no manifest" in r.stdout and "zz_level" in r.stdout
    assert "Traceback" not in r.stderr


def test_a_broken_language_fails_alone_and_the_summary_names_it(gathered):
    root, common = gathered
    manifest_path(root, "zz_contour").write_text('{"id": "broken', encoding="utf-8")  # not JSON
    r = run("make_pitch_data.py", "zz_contour,zz_level", "--overwrite", *common)
    assert r.returncode == 1, r.stderr
    assert "zz_level (pyaapt): 12 utterances" in r.stdout
    assert "1 of 2 languages produced no labels" in r.stdout and "zz_contour: JSONDecodeError" in r.stdout
    assert "Traceback" not in r.stderr
    r = run("make_pitch_data.py", "zz_contour,zz_level", "--fail-fast", *common)
    assert r.returncode == 2 and "--fail-fast: zz_contour: JSONDecodeError" in r.stderr


def test_probe_fail_fast_stops_at_an_utterance_without_labels(gathered):
    root, common = gathered
    manifest = manifest_path(root, "zz_level")
    first = manifest.read_text().splitlines()[0]
    ghost = first.replace('"id": "', '"id": "ghost', 1)  # a train utterance that has no labels
    manifest.write_text(manifest.read_text() + ghost + "\n")
    r = run("linear_regress.py", "zz_level", "--model", "fbank", *common)
    assert r.returncode == 0, r.stderr  # recorded and skipped
    r = run("linear_regress.py", "zz_level", "--model", "fbank", "--fail-fast", *common)
    assert r.returncode == 2 and "--fail-fast" in r.stderr and "no_labels" in r.stderr
    assert "Traceback" not in r.stderr


def test_an_unwritable_output_is_named_before_the_long_pass(gathered, tmp_path):
    root, common = gathered
    (tmp_path / "file").write_text("a file where a folder is wanted")
    t0 = time.monotonic()
    r = run("linear_regress.py", "zz_level", "--model", "fbank", "--output", tmp_path / "file" / "r.json", *common)
    assert r.returncode == 1
    assert "cannot write in" in r.stdout + r.stderr and "Traceback" not in r.stderr
    assert "MSE" not in r.stdout, "nothing was probed"
    assert time.monotonic() - t0 < 60


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_labelling_in_seconds_with_one_line(tmp_path, sig):
    corpus = write_corpus(tmp_path / "src", utterances_per_split={"train": 8, "dev": 1, "test": 1}, duration_s=(20, 24))
    common = ["--data-dir", tmp_path / "d", "--languages", corpus / "languages.tsv", "-q"]
    assert run("gather_data.py", "zz_level", "--source", corpus, *common).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "make_pitch_data.py"), "zz_level", "--jobs", "2", *map(str, common)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4.0)  # imports done, workers labelling
    t0 = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - t0 < 10
    word, code = ("interrupted", 130) if sig == signal.SIGINT else ("terminated", 143)
    assert proc.returncode == code, (out, err)
    assert "Traceback" not in err
    assert err.strip().splitlines() == [f"{word}; rerun the same command to resume"]
    r = run("make_pitch_data.py", "zz_level", *common)
    assert r.returncode == 0 and "0 failed" in r.stdout, "the rerun resumes and completes"
