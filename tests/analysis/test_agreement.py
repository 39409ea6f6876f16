"""The report's agreement tables: the estimated ceiling against planted trackers whose truth is known."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr

from pitchprobe.analysis.agreement import ceiling, reliability, reliability_table
from pitchprobe.labels.agreement import agreement_rows, headline_agreement


def _planted(noise_cents: dict[str, float], frames: int = 20000, seed: int = 0):
    """The true F0 and each tracker's labels: the truth with independent log-normal errors of the given size."""
    rng = np.random.default_rng(seed)
    truth = 100.0 * 2.0 ** (rng.uniform(0, 2, frames))  # 100-400 Hz
    labels = {t: truth * 2.0 ** (rng.normal(0, c, frames) / 1200) for t, c in noise_cents.items()}
    return truth, labels


def _agreement(labels: dict) -> pd.DataFrame:
    return pd.DataFrame([{"code": "xx", **row} for row in agreement_rows(labels)])


def test_estimated_ceiling_equals_each_trackers_r_with_the_planted_truth():
    truth, labels = _planted({"pyaapt": 300.0, "praat": 60.0, "swift": 120.0})
    agreement = _agreement(labels)
    for tracker, f0 in labels.items():
        true_r = pearsonr(truth, f0)[0]
        assert reliability(agreement, tracker)["xx"] == pytest.approx(true_r, abs=0.01), tracker
        # the between-tracker r is below it by the other trackers' own errors: a conservative reference
        assert ceiling(agreement, tracker)["xx"] < true_r - 0.01


def test_estimated_ceiling_needs_three_trackers_and_averages_over_pairs():
    _, labels = _planted({"a": 100.0, "b": 100.0})
    assert reliability(_agreement(labels), "a") == {}
    table = reliability_table(_agreement(labels), "a")  # two trackers: the between-tracker r alone
    assert list(table.tracker) == ["a", "b"] and table["pooled F0: estimated r"].isna().all()
    assert table["pooled F0: lowest between-tracker r"].nunique() == 1 and list(table.probed) == [True, False]
    _, labels = _planted({"a": 200.0, "b": 50.0, "c": 80.0, "d": 150.0})
    agreement = _agreement(labels)
    r = {frozenset((x, y)): v for x, y, v in zip(agreement.tracker_a, agreement.tracker_b, agreement.r)}
    pairs = [("b", "c"), ("b", "d"), ("c", "d")]
    want = np.mean([np.sqrt(r[frozenset(("a", b))] * r[frozenset(("a", c))] / r[frozenset((b, c))]) for b, c in pairs])
    assert reliability(agreement, "a")["xx"] == pytest.approx(min(1.0, want), rel=1e-12)


def _contours(noise_st: dict[str, float], utterances: int = 400, seed: int = 1):
    """The true F0 of utterances (a register each, a moving contour inside) and each tracker's labels: the truth
    with independent errors of the given size in semitones, frame by frame."""
    rng = np.random.default_rng(seed)
    truth = []
    for _ in range(utterances):
        t = 60
        truth.append(rng.uniform(90, 260) * 2 ** (np.sin(np.linspace(0, rng.uniform(2, 9), t)) * 3 / 12))
    labels = {k: [f * 2 ** (rng.normal(0, s, f.size) / 12) for f in truth] for k, s in noise_st.items()}
    return truth, labels


def test_movement_and_register_ceilings_equal_each_trackers_agreement_with_the_planted_truth():
    truth, labels = _contours({"pyaapt": 1.0, "praat": 0.3, "swift": 0.6})
    agreement = _agreement(labels)
    for tracker, f0 in labels.items():
        true = headline_agreement(truth, f0)
        assert reliability(agreement, tracker, column="r_movement")["xx"] == pytest.approx(true["r_movement"], abs=0.02)
        assert reliability(agreement, tracker, column="r_register")["xx"] == pytest.approx(true["r_register"], abs=0.01)
        assert ceiling(agreement, tracker, column="r_movement")["xx"] < true["r_movement"]


def test_pyaapt_and_pyaapt_fixed_are_never_a_pair_of_a_triad():
    """They share their errors (pyaapt-fixed is pyaapt read 17-34 cents higher): a triad with both would take
    their r of 1 for two independent trackers' and underestimate the third's r with the truth."""
    truth, labels = _planted({"pyaapt": 300.0, "praat": 60.0, "swift": 120.0})
    labels["pyaapt-fixed"] = labels["pyaapt"] * 2 ** (25 / 1200)
    agreement = _agreement(labels)
    for tracker in ("praat", "swift", "pyaapt-fixed"):
        assert reliability(agreement, tracker)["xx"] == pytest.approx(pearsonr(truth, labels[tracker])[0], abs=0.01)
