"""The report's agreement tables: the estimated ceiling against planted trackers whose truth is known."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr

from pitchprobe.analysis.agreement import ceiling, reliability, reliability_table
from pitchprobe.labels.agreement import agreement_rows


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
    assert list(table.tracker) == ["a", "b"] and table["estimated r with the true F0"].isna().all()
    assert table["lowest between-tracker r"].nunique() == 1 and list(table.probed) == [True, False]
    _, labels = _planted({"a": 200.0, "b": 50.0, "c": 80.0, "d": 150.0})
    agreement = _agreement(labels)
    r = {frozenset((x, y)): v for x, y, v in zip(agreement.tracker_a, agreement.tracker_b, agreement.r)}
    pairs = [("b", "c"), ("b", "d"), ("c", "d")]
    want = np.mean([np.sqrt(r[frozenset(("a", b))] * r[frozenset(("a", c))] / r[frozenset((b, c))]) for b, c in pairs])
    assert reliability(agreement, "a")["xx"] == pytest.approx(min(1.0, want), rel=1e-12)


def test_pyaapt_and_pyaapt_fixed_are_never_a_pair_of_a_triad():
    """They share their errors (pyaapt-fixed is pyaapt read 17-34 cents higher): a triad with both would take
    their r of 1 for two independent trackers' and underestimate the third's r with the truth."""
    truth, labels = _planted({"pyaapt": 300.0, "praat": 60.0, "swift": 120.0})
    labels["pyaapt-fixed"] = labels["pyaapt"] * 2 ** (25 / 1200)
    agreement = _agreement(labels)
    for tracker in ("praat", "swift", "pyaapt-fixed"):
        assert reliability(agreement, tracker)["xx"] == pytest.approx(pearsonr(truth, labels[tracker])[0], abs=0.01)
