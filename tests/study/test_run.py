"""A tiny offline study: 3 pseudo-languages (tonal and non-tonal), fbank and a random-init HuBERT, transfer."""

import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest

from pitchprobe.analysis.stats import METRICS
from pitchprobe.data.languages import load_table
from pitchprobe.study.run import StudyConfig
from tests.study.conftest import TINY_HUBERT, plant_no_pitch, run_reported  # noqa: F401

pytestmark = pytest.mark.slow  # every test here runs a study or the whole pipeline

N_METRICS = sum(len(m) for m in METRICS.values())


def test_all_units_done_and_the_table_has_the_expected_rows(study):
    cfg, summary = study
    assert summary.failed == [] and len(summary.done) == 14  # (3 fits + the pool + 3 scores) x 2 models
    df = pd.read_parquet(f"{cfg.run_dir}/tables/results.parquet")
    layers = {"fbank": 1, "hubert-random": 3}
    # within: 3; transfer from zz_level: 2 (its own is within), pooled: 3, others: 3; each (layers + floor) x metrics
    expected = sum(11 * (n + 1) * N_METRICS for n in layers.values())
    assert len(df) == expected
    assert len(pd.read_csv(f"{cfg.run_dir}/tables/results.csv")) == expected
    row = df[df.code == "zz_contour"].iloc[0]
    table = load_table(f"{cfg.data_dir}/../src/languages.tsv")
    assert (row.lang_id, row.tone_class, row.language) == (0, "tonal", table["zz_contour"].language)
    probe = df[(df.predictor == "probe") & (df.kind == "within")]
    assert (probe.n_utterances == 10).all() and (probe.n_frames > 0).all()
    summed = probe[probe.metric != "auc"]  # the ROC AUC is of histograms: no bootstrap interval
    assert summed.ci_low.notna().all() and (summed.ci_low <= summed.ci_high + 1e-9).all()
    assert probe[probe.metric == "auc"].ci_low.isna().all() and probe[probe.metric == "auc"].value.notna().all()


def test_transfer_rows_name_their_train_language(study):
    cfg, _ = study
    df = pd.read_parquet(f"{cfg.run_dir}/tables/results.parquet")
    tr = df[(df.kind == "transfer") & (df.model_tag == "fbank")]
    tests = tr.groupby("train_language").code.unique().map(sorted).to_dict()
    assert tests == {"zz_level": ["zz_contour", "zz_intonation"], "pooled": cfg.langs, "others": cfg.langs}
    probe = tr[(tr.predictor == "probe") & (tr.metric != "auc")]  # the ROC AUC has no bootstrap interval
    assert probe.ci_low.notna().all(), "every scored probe keeps the statistics its bootstrap needs"


def test_planted_difference_is_detected(study):
    cfg, _ = study
    tests = json.loads(open(f"{cfg.run_dir}/tables/tests.json").read())
    comp = tests["vs_reference"]["fbank"]
    assert comp["reference"] == "zz_level"
    planted = comp["languages"]["zz_intonation"]
    assert planted["difference"] < -0.3 and planted["p_value"] < 0.05
    assert comp["languages"]["zz_contour"]["p_value"] > planted["p_value"]
    best = pd.read_csv(f"{cfg.run_dir}/tables/best_layers.csv")
    b = best[best.model_tag == "fbank"].set_index("code")
    assert b.loc["zz_intonation", "ci_high"] < b.loc["zz_level", "ci_low"]


def test_figures_are_valid_images_and_the_report_holds_them(study):
    cfg, _ = study
    figs = sorted(Path(cfg.run_dir, "figures").glob("*.png"))
    names = {p.stem.split("_")[0] for p in figs}
    assert names == {"a", "b", "c", "d", "e", "f", "g", "h"}
    for p in figs:
        img = mpimg.imread(p)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
        ET.parse(p.with_suffix(".svg"))  # well-formed SVG
    html = open(f"{cfg.run_dir}/report.html").read()
    assert html.count("data:image/png;base64,") == len(figs)
    for heading in (
        "Data",
        "Models",
        "Method",
        "Best layer per language",
        "Statistical tests",
        "Cross-lingual transfer",
        "Software",
        "Reproduce",
    ):
        assert f"<h2>{heading}" in html
    assert html.index("<h2>") == html.index("<h2>Findings") and "<h2>Cross-lingual transfer of movement" in html
    assert "zz_intonation" in html and "pitchprobe study --langs zz_contour,zz_intonation,zz_level" in html
    assert "Pooled probes: " in html and "MB per language" in html
    md = open(f"{cfg.run_dir}/report.md").read()
    assert all(f"]({p.relative_to(cfg.run_dir).as_posix()})" in md for p in figs)


def test_rerun_recomputes_nothing(study):
    cfg, _ = study
    run = Path(cfg.run_dir)
    results = sorted(run.glob("results/**/*")) + sorted(run.glob("transfer/**/*"))
    mtimes = {p: p.stat().st_mtime_ns for p in results if p.is_file()}
    # per model: within and pooled 3 x (json, predictions, stats); zz_level's 2 and others' 3 x (json, stats)
    assert len(mtimes) == 2 * (3 * 3 + 3 * 3 + 2 * 2 + 3 * 2)
    summary = run_reported(cfg, progress=False)
    assert summary.done == [] and len(summary.skipped) == 14
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_killed_study_resumes_cleanly(study, tmp_path):
    cfg, _ = study
    cfg2 = StudyConfig(**{**asdict(cfg), "run_dir": str(tmp_path / "run"), "models": ["fbank"], "train_langs": []})
    code = (
        "import json, sys\nfrom pitchprobe.study.run import StudyConfig, run_study\n"
        "run_study(StudyConfig(**json.loads(sys.argv[1])), progress=False)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(asdict(cfg2))])
    units = tmp_path / "run" / "units"
    deadline = time.time() + 120
    while time.time() < deadline and not (units.is_dir() and any(units.glob("*.json"))):
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done_before = len(list(units.glob("*.json")))
    assert 1 <= done_before < 7, "killed after the first unit and before the last"
    assert not list((tmp_path / "run").rglob(".*.tmp*")), "no temporary files left"
    summary = run_reported(cfg2, progress=False)
    assert len(summary.skipped) == done_before and len(summary.done) == 7 - done_before and not summary.failed


def test_slurm_path_through_submitit_local_executor(study, tmp_path):
    cfg, _ = study
    langs = ["zz_contour", "zz_level"]
    cfg2 = StudyConfig(
        **{**asdict(cfg), "run_dir": str(tmp_path / "run"), "models": ["fbank"], "langs": langs, "train_langs": []}
    )
    cfg2.executor, cfg2.langs_per_job = "submitit-local", 2
    summary = run_reported(cfg2, progress=False)
    assert not summary.failed and len(summary.done) == 5
    jobs = json.loads((tmp_path / "run" / "logs" / "jobs.json").read_text())
    assert len(jobs) == 5 and len(set(jobs.values())) == 3, "one fit job (2 languages), the pool, one score job"
    fit_ids = {jobs[f"fit--fbank--{c}"] for c in langs}
    assert len(fit_ids) == 1 and jobs["pool--fbank--pooled"] not in fit_ids
    within = json.loads((tmp_path / "run" / "results" / "fbank" / "zz_level.json").read_text())
    first = json.loads(open(f"{cfg.run_dir}/results/fbank/zz_level.json").read())
    assert within["layers"] == first["layers"]
