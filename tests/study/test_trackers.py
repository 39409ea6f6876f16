"""A study with several trackers: every tracker labels, the agreement table and report say what was measured,
and ``--labels consensus`` fits and scores on trusted frames only."""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr

from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.layout import RunLayout
from pitchprobe.data.manifest import read_manifest
from pitchprobe.data.synth import write_corpus
from pitchprobe.labels.agreement import headline_agreement, pair_agreement
from pitchprobe.labels.store import label_timing, read_labels
from pitchprobe.probe.results import read_result
from pitchprobe.study.run import StudyConfig
from tests.study.conftest import run_reported

pytestmark = pytest.mark.slow  # two small studies
TRACKERS = ["pyaapt", "praat", "swift"]
LANGS = ["zz_contour", "zz_level"]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trackers")
    corpus = write_corpus(tmp / "src", utterances_per_split={"train": 6, "dev": 3, "test": 10}, duration_s=(1.2, 1.8))
    common = {
        "langs": LANGS,
        "models": ["fbank"],
        "data_dir": str(tmp / "data"),
        "languages_table": str(corpus / "languages.tsv"),
        "source": str(corpus),
        "trackers": TRACKERS,
        "bootstrap": 50,
        "permutations": 100,
        "device": "cpu",
    }
    by_tracker = StudyConfig(**common, run_dir=str(tmp / "run"))
    consensus = StudyConfig(**common, run_dir=str(tmp / "consensus"), labels="consensus")
    return by_tracker, run_reported(by_tracker, progress=False), consensus, run_reported(consensus, progress=False)


def test_every_tracker_labels_and_the_agreement_table_equals_the_pairs_of_stored_labels(tracked):
    cfg, summary, _, _ = tracked
    assert not summary.failed and not summary.failed_languages
    table = pd.read_csv(RunLayout(cfg.run_dir).tables / "agreement.csv")
    assert set(table.gender) == {"all", "FEMALE", "MALE"}
    for code in LANGS:
        labels = {t: read_labels(cfg.data_dir, code, "test", tracker=t) for t in TRACKERS}
        gender = {r["id"]: r["gender"] for r in read_manifest(cfg.data_dir, code, splits=("test",))}
        groups = {"all": sorted(labels["pyaapt"])}
        for g in sorted(set(gender.values())):
            groups[g] = [i for i in groups["all"] if gender[i] == g]
        assert set(table[table.code == code].gender) == set(groups)
        for group, ids in groups.items():
            for a, b in (("pyaapt", "praat"), ("pyaapt", "swift"), ("praat", "swift")):
                fa = np.concatenate([labels[a][i].f0_hz for i in ids])
                fb = np.concatenate([labels[b][i].f0_hz for i in ids])
                want = pair_agreement(fa, fb).as_dict()
                want.update(headline_agreement([labels[a][i].f0_hz for i in ids], [labels[b][i].f0_hz for i in ids]))
                sel = (table.code == code) & (table.gender == group) & (table.tracker_a == a) & (table.tracker_b == b)
                row = table[sel].iloc[0]
                assert row.utterances == len(ids)
                for key in ("frames", "voicing_agreement", "gpe", "octave_down", "mad_cents", "bias_cents", "r",
                            "r_movement", "r_register"):  # fmt: skip
                    assert row[key] == pytest.approx(want[key], rel=1e-9, nan_ok=True)


def test_register_within_each_gender_equals_the_r_over_its_utterances_predictions(tracked):
    """The register r within a gender, recomputed from the kept predictions: each utterance's mean predicted
    register against the median of its labels, in semitones re 100 Hz, over that gender's test utterances."""
    cfg, _, _, _ = tracked
    layout = RunLayout(cfg.run_dir)
    by_gender = pd.read_csv(layout.tables / "register_by_gender.csv")
    headline = pd.read_csv(layout.tables / "headline.csv").set_index(["model_tag", "code"])
    assert headline[["movement_ceiling", "register_ceiling"]].notna().all().all()
    assert set(headline.ceiling_kind) == {"estimated (triad)"}
    checked = 0
    for code in LANGS:
        gender = {r["id"]: r["gender"] for r in read_manifest(cfg.data_dir, code, splits=("test",))}
        preds = pd.read_parquet(layout.within("fbank", code).predictions)
        for _, row in by_gender[by_gender.code == code].iterrows():
            assert row.layer == headline.loc[("fbank", code), "register_layer"]
            p = preds[(preds.layer == row.layer) & ((row.gender == "all") | preds.id.map(gender).eq(row.gender))]
            assert len(p) == row.utterances
            if pd.isna(row["register r"]):
                assert row.utterances < 5 and row.gender != "all"
                continue
            target = [12 * np.log2(np.median(np.asarray(f)[np.asarray(f) > 0]) / 100) for f in p.f0_hz]
            predicted = [np.mean(x) for x in p.pred_register]
            assert row["register r"] == pytest.approx(pearsonr(predicted, target)[0], abs=1e-5)
            checked += 1
    assert checked >= len(LANGS) + 1  # every language's "all", and at least one gender of its own


def test_report_says_which_trackers_how_far_they_agree_and_what_the_targets_mean(tracked):
    cfg, _, _, _ = tracked
    layout = RunLayout(cfg.run_dir)
    md = layout.report_md.read_text()
    for heading in (
        "## Headline: movement and register",
        "## Pitch trackers: licences and measured timing",
        "## Tracker agreement",
        "## Frames used",
    ):
        assert heading in md
    assert "GPL-3.0" in md, md
    assert "How to read movement against register" in md and "st_utt" in md
    assert "between-tracker r (a reference)" in md and "## Label reliability" in md
    assert "## Voicing and error size" in md
    results = pd.read_csv(layout.tables / "results.csv")
    probe = results[(results.predictor == "probe") & (results.layer == 0) & (results.model_tag == "fbank")]
    frames = probe.set_index(["code", "target", "metric"]).n_frames
    for code in LANGS:  # voicing is scored on every frame, as f0_all's MSE is
        assert frames[code, "voicing", "auc"] == frames[code, "f0_all", "mse_hz2"] > frames[code, "f0_voiced", "r"]
    detail = pd.read_csv(layout.tables / "detail.csv").set_index(["model_tag", "code"])
    best = results[(results.predictor == "probe") & (results.target == "voicing") & (results.metric == "auc")]
    for (tag, code), row in detail.iterrows():
        pick = best[(best.model_tag == tag) & (best.code == code)]
        assert row.voicing_auc == pick.loc[pick.dev_mse.idxmin(), "value"]
        assert row.rmse_cents_floor > row.rmse_cents  # the probe beats predicting the train mean
    headline = pd.read_csv(layout.tables / "headline.csv")
    assert set(headline.code) == set(LANGS) and headline[["movement", "register", "pooled_r"]].notna().all().all()
    register = probe[(probe.target == "register") & (probe.metric == "r")].set_index("code").n_frames
    assert dict(zip(headline.code, headline.test_utterances)) == register.to_dict()  # what register r is over
    # Praat's labels sit at their nominal centres (no delay of its own); pYAAPT's are placed per utterance; the
    # stored timing is what the report shows
    praat = label_timing(cfg.data_dir, "zz_level", tracker="praat")
    assert praat["applied_offset_samples"] == 0 and abs(praat["offset_ms"]) < 0.5
    lab = next(iter(read_labels(cfg.data_dir, "zz_level", "test", tracker="praat").values()))
    assert lab.first_centre_samples == praat["nominal_first_samples"]
    assert f"{praat['offset_ms']:+.2f} ± {praat['uncertainty_samples'] / 16:.2f} ms" in md
    assert "placed per utterance, at the median over voiced frames" in md
    placed = {lab.first_centre_samples for lab in read_labels(cfg.data_dir, "zz_level", "test").values()}
    assert all(p < praat["nominal_first_samples"] for p in placed), "pYAAPT's content sits before its centres"


def test_consensus_study_fits_and_scores_on_trusted_frames_only(tracked):
    _, _, cfg, summary = tracked
    assert not summary.failed and not summary.failed_languages
    for code in LANGS:
        res = read_result(RunLayout(cfg.run_dir).within("fbank", code).json)
        assert res.labels["tracker"] == "consensus" and res.labels["sources"] == TRACKERS
        labs = read_labels(cfg.data_dir, code, "test", tracker="consensus")
        masked = sum(int(np.isnan(lab.f0_hz).sum()) for lab in labs.values())
        assert res.counts["test"].masked_frames == masked > 0
    frames = json.loads((RunLayout(cfg.run_dir).root / "config.json").read_text())
    assert frames["labels"] == "consensus"
    assert "consensus of pyaapt, praat, swift" in RunLayout(cfg.run_dir).report_md.read_text()


def test_each_model_is_timed_once_and_its_frames_stay_where_measured(tracked):
    cfg, _, _, _ = tracked
    layout = RunLayout(cfg.run_dir)
    timing = json.loads(layout.model_timing("fbank").read_text())
    assert abs(timing["offset_ms"]) < timing["tolerance_ms"] and timing["applied_offset_samples"] == 0
    res = read_result(layout.within("fbank", "zz_level").json)
    assert res.model["first_centre_samples"] == 200 + timing["applied_offset_samples"]
    assert "Measured offset" in layout.report_md.read_text()


def test_an_offset_measured_anew_makes_labels_and_results_stale_and_overwrite_remakes_them(tmp_path):
    """A tracker (or model) measured at another offset, as a new version of it may be, is not reused quietly: the
    study names the labels and results made at the old one, and ``--overwrite`` relabels and recomputes."""
    corpus = write_corpus(
        tmp_path / "src", utterances_per_split={"train": 6, "dev": 3, "test": 4}, duration_s=(1.2, 1.6)
    )
    root = tmp_path / "data"
    cfg = StudyConfig(langs=["zz_level"], models=["fbank"], trackers=["praat"], data_dir=str(root),
                      run_dir=str(tmp_path / "run"), languages_table=str(corpus / "languages.tsv"), source=str(corpus),
                      bootstrap=20, permutations=20, device="cpu")  # fmt: skip
    assert not run_reported(cfg, progress=False).failed
    layout = RunLayout(cfg.run_dir)
    offset = label_timing(root, "zz_level", tracker="praat")["applied_offset_samples"]
    assert offset == 0  # Praat's frames sit at their nominal centres
    res = read_result(layout.within("fbank", "zz_level").json)
    assert res.fingerprint["labels_timing"] == {"placement": "fixed", "offset_samples": 0}
    assert "model_offset_samples" not in res.fingerprint

    (cache,) = (root / "calibration").glob("praat-*.json")  # as a new version of Praat measured 40 samples late
    cache.write_text(json.dumps({**json.loads(cache.read_text()), "applied_offset_samples": offset + 40}))
    with pytest.raises(PitchProbeError, match=rf"labels_timing.offset_samples: {offset} -> {offset + 40}") as e:
        run_reported(cfg, progress=False)
    assert (
        f"are placed at the nominal centres + {offset} samples, but praat is now at the nominal centres + "
        f"{offset + 40} samples" in str(e.value)
    )
    summary = run_reported(replace(cfg, overwrite=True), progress=False)
    assert not summary.failed and summary.done
    params = cfg.tracker_params("praat")
    for split in ("train", "dev", "test"):
        for lab in read_labels(root, "zz_level", split, tracker="praat").values():
            assert lab.first_centre_samples == params.first_centre_samples() + offset + 40
    res = read_result(layout.within("fbank", "zz_level").json)
    assert res.fingerprint["labels_timing"]["offset_samples"] == offset + 40

    timing = layout.model_timing("fbank")
    timing.write_text(json.dumps({**json.loads(timing.read_text()), "applied_offset_samples": 16}))
    with pytest.raises(PitchProbeError, match=r"model_offset_samples: None -> 16"):
        run_reported(cfg, progress=False)
    assert run_reported(replace(cfg, overwrite=True), progress=False).done
    res = read_result(layout.within("fbank", "zz_level").json)
    assert res.fingerprint["model_offset_samples"] == 16 and res.model["first_centre_samples"] == 200 + 16
    again = run_reported(cfg, progress=False)
    assert again.done == [] and again.skipped
