"""The study's plan (``--dry-run``): units and jobs per phase and the audio behind them, without running anything."""

import math

import pytest

from pitchprobe.cli.main import main
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.data.languages import load_table, resolve
from pitchprobe.data.manifest import read_manifest
from pitchprobe.study.config import StudyConfig, units_of
from pitchprobe.study.plan import FLEURS_HOURS, FORWARD_RATE, plan_study

MODELS = ["hubert", "wavlm", "wav2vec2"]


def test_the_full_fleurs_matrix_plans_one_forward_per_utterance(tmp_path):
    codes = [lang.code for lang in resolve(["all"], load_table(None))]
    cfg = StudyConfig(langs=codes, models=MODELS, train_langs=codes, pooled=True, data_dir=str(tmp_path))
    cfg.langs_per_job = 4
    plan = plan_study(cfg)
    k, m = len(codes), len(MODELS)
    assert k == 102
    assert plan.units == {"fit": m * k, "pool": m, "score": m * k}
    assert plan.jobs == {"fit": m * math.ceil(k / 4), "pool": m, "score": m * math.ceil(k / 4)}
    assert plan.forwards_per_utterance == 1 and plan.probes_per_test_utterance == (k - 1) + 1 + 2
    assert sum(plan.audio_s.values()) == pytest.approx(k * FLEURS_HOURS * 3600)
    assert plan.sums_languages == k and plan.sums_bytes_per_language > 100e6  # base model, float64
    est = plan.estimate(cores=16, forward_rate=1000.0, fit_seconds=2.0)
    assert est["forward_h"] == pytest.approx(m * k * FLEURS_HOURS / 1000)
    assert "306 fit, 3 pool, 306 score" in plan.text()


def test_gathered_languages_count_their_own_audio(labelled, table):
    codes = sorted(table)
    plan = plan_study(StudyConfig(langs=codes, models=["fbank"], data_dir=str(labelled)))
    assert plan.audio_measured == len(codes)
    want = sum(r["duration"] for c in codes for r in read_manifest(labelled, c))
    assert sum(plan.audio_s.values()) == pytest.approx(want, rel=1e-3)


def test_dry_run_on_the_command_line_runs_nothing(tmp_path, capsys):
    assert main(["study", "--langs", "all", "--train-lang", "all", "--pooled", "--dry-run", "--data-dir",
                 str(tmp_path / "data")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "102 fit, 1 pool, 102 score" in out and "forward passes per utterance and model: 1" in out
    assert not (tmp_path / "data").exists()


def test_a_language_may_not_be_called_pooled_and_pooling_needs_two():
    with pytest.raises(PitchProbeError, match="pooled"):
        units_of(StudyConfig(langs=["pooled", "en_us"], models=["fbank"]))
    with pytest.raises(PitchProbeError, match="at least two"):
        units_of(StudyConfig(langs=["en_us"], models=["fbank"], pooled=True))


def test_dry_run_refuses_a_misspelt_model_and_keeps_ids_and_folders(tmp_path, capsys):
    base = ["study", "--langs", "en_us", "--dry-run", "--data-dir", str(tmp_path / "data")]
    assert main([*base, "--models", "hubbert"]) == 2
    err = capsys.readouterr().err
    assert "'hubbert'" in err and "Did you mean 'hubert'" in err
    (tmp_path / "my_model").mkdir()
    models = f"fbank,random:hubert,facebook/hubert-base-ls960,{tmp_path / 'my_model'}"
    assert main([*base, "--models", models]) == 0  # no network: an org/name id and a local folder stay valid


def test_dry_run_states_its_assumptions_and_the_disk_it_needs(tmp_path):
    import os

    plan = plan_study(StudyConfig(langs=["en_us"], models=["hubert"], data_dir=str(tmp_path), device="cpu"))
    text = plan.text()
    assert f"on {len(os.sched_getaffinity(0))} cores" in text and f"on the cpu at {FORWARD_RATE['cpu']:g}x" in text
    assert set(plan.disk_bytes) == {"audio", "labels", "results", "sums"}
    assert plan.disk_bytes["audio"] == pytest.approx(FLEURS_HOURS * 3600 * 16000 * 4)
    assert "disk: " in text and "audio " in text and "sums " in text
    gpu = plan_study(StudyConfig(langs=["en_us"], models=["hubert"], data_dir=str(tmp_path), device="cuda"))
    assert f"on the cuda at {FORWARD_RATE['cuda']:g}x" in gpu.text()
