"""The prototype's four scripts, end to end, as a user runs them."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pitchprobe.labels.store import read_labels
from tests.conftest import write_recordings

REPO = Path(__file__).resolve().parents[2]


def run(script, *args, cwd=REPO):
    return subprocess.run(
        [sys.executable, str(REPO / script), *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def test_version_prints_the_packages_version():
    from pitchprobe import __version__

    r = subprocess.run([sys.executable, "-m", "pitchprobe", "--version"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0 and r.stdout.strip() == f"pitchprobe {__version__}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, corpus):
    d = tmp_path_factory.mktemp("cli")
    return d, ["--data-dir", d / "data", "--languages", corpus / "languages.tsv", "-q"]


@pytest.mark.slow
def test_scripts_end_to_end(workdir, corpus):
    d, common = workdir
    r = run("gather_data.py", "zz_level", "1", "--source", corpus, *common)
    assert r.returncode == 0, r.stderr
    assert "zz_level" in r.stdout and "zz_intonation" in r.stdout
    r = run("make_pitch_data.py", "2", *common)
    assert r.returncode == 0, r.stderr
    assert "zz_level (pyaapt): 12 utterances" in r.stdout and "0 failed" in r.stdout
    r = run("linear_regress.py", "2", "--model", "fbank", "--alpha", "0", *common)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-2] == "lang_id: 2"
    mses = [float(x) for x in lines[-3].split("\t")]
    result = json.loads((d / "data" / "results" / "fbank" / "zz_level.json").read_text())
    assert mses == pytest.approx([layer["f0_all"]["mse_hz2"] for layer in result["layers"]], rel=1e-5)
    assert "MSE Hz²" in r.stdout and " mean |" in r.stdout
    # the model's frames are placed where they were measured, as the study places them
    timing = json.loads((d / "data" / "calibration" / "models" / "fbank.json").read_text())
    assert result["model"]["first_centre_samples"] == 200 + timing["applied_offset_samples"]
    # the labels' placement is recorded, and every prediction carries where its label frame sits
    assert result["labels"]["placement"] == result["fingerprint"]["labels_timing"]
    assert result["labels"]["nominal_first_centre_samples"] == 200 and "first_centre_samples" not in result["labels"]
    preds = pd.read_parquet(d / "data" / "results" / "fbank" / "zz_level.predictions.parquet")
    labels = read_labels(d / "data", "zz_level", "test")
    for _, row in preds[preds.layer == 0].iterrows():
        lab = labels[row.id]
        assert list(row.centre_samples) == list(lab.first_centre_samples + 320 * np.asarray(row.label_index))


@pytest.mark.slow
def test_states_script_writes_chosen_layers(workdir):
    d, common = workdir
    r = run("get_hidden_states.py", "zz_level", "--model", "fbank", "--split", "test", "--limit", "2", *common)
    assert r.returncode == 0, r.stderr
    files = sorted((d / "data" / "states" / "fbank" / "zz_level" / "test").glob("*.npz"))
    assert len(files) == 2
    z = np.load(files[0])
    assert z["layer_0"].shape == (z["frame_centres_s"].size, 240)
    np.testing.assert_allclose(z["frame_centres_s"][:3], [0.0125, 0.0225, 0.0325])


@pytest.mark.slow
def test_unknown_language_model_and_flag_are_clear_errors(workdir):
    _, common = workdir
    r = run("make_pitch_data.py", "zz_nope", *common)
    assert r.returncode == 2 and "unknown language 'zz_nope'" in r.stderr and "zz_level (2)" in r.stderr
    r = run("linear_regress.py", "2", "--model", "hubbert", *common)
    assert r.returncode == 2 and "unknown model 'hubbert'" in r.stderr and "wav2vec2" in r.stderr
    r = run("linear_regress.py", "2", "--modle", "fbank", *common)
    assert r.returncode == 2 and "unrecognized arguments: --modle" in r.stderr
    r = run("gather_data.py", "no_such", "--source", ".", "-q")
    assert r.returncode == 2 and "en_us (19)" in r.stderr


def test_labels_gather_a_language_first_when_needed(workdir, corpus):
    d, common = workdir
    r = run("make_pitch_data.py", "zz_contour", "--source", corpus, *common)
    assert r.returncode == 0, r.stderr
    assert "not gathered yet" in r.stdout and "zz_contour (pyaapt): 12 utterances, 0 already labelled" in r.stdout
    assert (d / "data" / "manifests" / "zz_contour.jsonl").is_file()


@pytest.mark.slow
def test_a_study_with_no_result_names_no_report(labelled, corpus, tmp_path, capsys):
    from pitchprobe.cli.main import main

    run_dir = tmp_path / "run"
    args = ["study", "--langs", "zz_level", "--models", "hubbert", "--run-dir", run_dir, "--source", corpus]
    args += ["--device", "cpu", "--data-dir", labelled, "--languages", corpus / "languages.tsv", "-q"]
    assert main([str(a) for a in args]) == 1
    out = capsys.readouterr().out
    assert "2 failed" in out and "no report written" in out and "report:" not in out
    assert not (run_dir / "report.html").exists()


def test_study_runs_the_study_then_its_report(labelled, corpus, tmp_path, capsys):
    from pitchprobe.cli.main import main

    run_dir = tmp_path / "run"
    args = ["study", "--langs", "zz_level", "--models", "fbank", "--run-dir", run_dir, "--source", corpus]
    args += ["--bootstrap", 20, "--permutations", 20, "--device", "cpu"]
    args += ["--data-dir", labelled, "--languages", corpus / "languages.tsv", "-q"]
    assert main([str(a) for a in args]) == 0
    out = capsys.readouterr().out
    assert out.index("units: 2 done now") < out.index(f"report: {run_dir / 'report.html'}")
    assert "zz_level" in (run_dir / "tables" / "results.csv").read_text()


@pytest.mark.slow
def test_five_recordings_of_ones_own_go_through_with_no_extra_flag(tmp_path):
    src = write_recordings(tmp_path / "recordings", 5)
    common = ["--data-dir", tmp_path / "data", "-q"]
    r = run("gather_data.py", "--from-dir", src, "--name", "mine", *common)
    assert r.returncode == 0, r.stderr
    assert "{'train': 3, 'dev': 1, 'test': 1}" in r.stdout and "0 failed" in r.stdout
    r = run("make_pitch_data.py", "mine", *common)
    assert r.returncode == 0, r.stderr
    assert "mine (pyaapt): 5 utterances" in r.stdout and "0 failed" in r.stdout
    r = run("linear_regress.py", "mine", "--model", "fbank", *common)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "data" / "results" / "fbank" / "mine.json").is_file()
