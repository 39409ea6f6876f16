"""A study's bookkeeping: unique model tags, fingerprints that refuse stale results, dev-chosen layers."""

import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
import pytest
from transformers import HubertConfig

from pitchprobe.analysis.aggregate import best_layers
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.probe.results import read_result
from pitchprobe.study.config import StudyConfig, study_command
from tests.study.conftest import TINY_HUBERT, run_reported

pytestmark = pytest.mark.slow  # every test here runs a study or the whole pipeline


def _small(cfg, run_dir, **kw):
    base = {**asdict(cfg), "run_dir": str(run_dir), "models": ["fbank"], "langs": ["zz_level"], "train_langs": []}
    base["pooled"] = False
    return StudyConfig(**{**base, "bootstrap": 20, "permutations": 20, **kw})


def test_three_models_with_one_base_name_do_not_overwrite_each_other(study, tmp_path):
    cfg, _ = study
    dirs = []
    for i, sub in enumerate(("a", "b", "c")):
        d = tmp_path / sub / "hubert"
        HubertConfig(**TINY_HUBERT, conv_dim=(8 + 8 * i,) * 7, num_conv_pos_embeddings=16).save_pretrained(d)
        dirs.append(d)
    models = [f"random:{d}" for d in dirs]
    summary = run_reported(_small(cfg, tmp_path / "run", models=models), progress=False)
    assert not summary.failed and len(summary.done) == 6  # a fit and a score each
    results = sorted((tmp_path / "run" / "results").glob("*/zz_level.json"))
    assert len(results) == 3
    names = {read_result(p).model["identity"]["name"] for p in results}
    assert names == {str(d) for d in dirs}
    assert len({read_result(p).model["hidden_sizes"][0] for p in results}) == 1  # same layer size, own numbers
    assert len({json.dumps(read_result(p).to_dict()["layers"]) for p in results}) == 3


@pytest.mark.parametrize(
    "change, field",
    [({"alpha": 0.5}, "alpha"), ({"gender": "male"}, "gender"), ({"frame_space_ms": 10.0}, "frame_space_ms")],
)
def test_rerun_with_another_configuration_refuses_then_recomputes_with_overwrite(study, tmp_path, change, field):
    cfg, _ = study
    root = tmp_path / "data"
    shutil.copytree(cfg.data_dir, root)  # --overwrite may relabel: keep the shared data root intact
    first = _small(cfg, tmp_path / "run", data_dir=str(root))
    run_reported(first, progress=False)
    path = tmp_path / "run" / "results" / "fbank" / "zz_level.json"
    before = read_result(path)
    changed = replace(first, **change)
    with pytest.raises(PitchProbeError, match=field) as err:
        run_reported(changed, progress=False)
    assert "--overwrite" in str(err.value) and "--run-dir" in str(err.value)
    assert read_result(path).created == before.created  # nothing was touched
    summary = run_reported(replace(changed, overwrite=True), progress=False)
    assert summary.done == ["fit--fbank--zz_level", "score--fbank--zz_level"] and not summary.failed
    after = read_result(path)
    key = "labels" if field == "frame_space_ms" else field
    assert after.fingerprint[key] != before.fingerprint[key]
    if field == "frame_space_ms":
        assert after.labels["hop_samples"] == 160
    summary = run_reported(changed, progress=False)  # the new configuration is now done
    assert summary.skipped == ["fit--fbank--zz_level", "score--fbank--zz_level"]


def test_fixed_alpha_still_chooses_the_best_layer_on_dev(study, tmp_path):
    cfg, _ = study
    c = _small(cfg, tmp_path / "run", alpha=0.0, models=[f"random:{Path(cfg.run_dir).parent / 'hubert'}"])
    run_reported(c, progress=False)
    (path,) = (tmp_path / "run" / "results").glob("*/zz_level.json")
    res = read_result(path)
    assert res.counts["dev"].utterances > 0 and res.probe["best_layer_chosen_on"] == "dev"
    assert all(lm.f0_voiced.dev_mse is not None for lm in res.layers)
    best = pd.read_csv(tmp_path / "run" / "tables" / "best_layers.csv")
    assert (best.chosen_on == "dev").all()
    dev = {lm.layer: lm.f0_voiced.dev_mse for lm in res.layers}
    assert int(best.layer.iloc[0]) == min(dev, key=dev.get)


def test_without_dev_errors_the_choice_is_marked_as_made_on_test(study):
    cfg, _ = study
    df = pd.read_parquet(Path(cfg.run_dir) / "tables" / "results.parquet")
    df = df[df.kind == "within"].assign(dev_mse=float("nan"))
    best = best_layers(df)
    assert (best.chosen_on == "test").all()


def test_results_written_before_the_schema_are_refused_not_misread(study, tmp_path):
    cfg, _ = study
    c = _small(cfg, tmp_path / "run")
    run_reported(c, progress=False)
    path = tmp_path / "run" / "results" / "fbank" / "zz_level.json"
    old = json.loads(path.read_text())
    del old["schema_version"], old["fingerprint"]
    path.write_text(json.dumps(old))
    with pytest.raises(PitchProbeError, match="schema_version"):
        run_reported(c, progress=False)


def test_adhoc_probe_results_are_not_study_units(study, tmp_path):
    cfg, _ = study
    c = _small(cfg, None, data_dir=cfg.data_dir)
    c = replace(c, run_dir=None)
    from pitchprobe.study.run import prepare

    assert Path(prepare(c).run_dir) == Path(cfg.data_dir) / "studies" / "default"


def test_transfer_times_and_fit_failures_are_per_test_language(study):
    cfg, _ = study
    run = Path(cfg.run_dir)
    fit = json.loads((run / "fits" / "fbank" / "zz_level.json").read_text())
    res = [read_result(p) for p in sorted((run / "transfer" / "fbank" / "zz_level").glob("*.json"))]
    assert [r.code for r in res] == ["zz_contour", "zz_intonation"]  # the diagonal is the within result
    for r in res:
        status = json.loads((run / "units" / f"score--fbank--{r.code}.json").read_text())
        assert r.fit_seconds == fit["seconds"] and r.wall_seconds <= status["seconds"] + 0.5
        assert r.counts["train"].utterances == fit["counts"]["train"]["utterances"] == 6
        assert all(f.phase in ("fit", "score") and f.language for f in r.failures)


def test_reproduce_command_gives_back_the_configuration(study):
    cfg, _ = study
    from pitchprobe.cli.main import build_parser

    c = replace(
        cfg, gender="female", device="cpu", batch_size=3, repo="me/fleurs", revision="abc", jobs=2,
        executor="submitit-local", frame_length_ms=30.0, s3prl_ckpt="/x/y.pt", alpha=0.25,
    )  # fmt: skip
    cmd = study_command(c)
    for flag in ("--gender", "--device", "--batch-size", "--repo", "--revision", "--jobs", "--executor"):
        assert flag in cmd
    args = build_parser().parse_args(cmd.split()[1:])
    for key in ("gender", "device", "batch_size", "repo", "revision", "jobs", "executor", "frame_length_ms", "alpha"):
        assert getattr(args, key) == getattr(c, key), key


def test_leftover_results_are_listed_not_reported_and_seed_only_reseeds_statistics(study, tmp_path):
    cfg, _ = study
    c = _small(cfg, tmp_path / "run")
    run_reported(c, progress=False)
    run = tmp_path / "run"
    (run / "results" / "gone-model").mkdir()
    shutil.copy(run / "results" / "fbank" / "zz_level.json", run / "results" / "gone-model" / "zz_level.json")
    summary = run_reported(replace(c, seed=5), progress=False)  # a pretrained model's numbers do not depend on it
    assert summary.skipped == ["fit--fbank--zz_level", "score--fbank--zz_level"] and not summary.done
    df = pd.read_parquet(run / "tables" / "results.parquet")
    assert set(df.model_tag) == {"fbank"}
    assert "gone-model/zz_level.json" in (run / "report.md").read_text()
