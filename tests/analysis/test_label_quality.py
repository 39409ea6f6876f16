"""Label quality where the headline needs it: ceilings for the headline pair, errors per gender, shared errors."""

import numpy as np
import pandas as pd
import pytest

from pitchprobe.analysis.agreement import ALL
from pitchprobe.analysis.label_quality import (
    WARN_GPE,
    gender_warnings,
    headline_ceilings,
    independence_check,
)
from pitchprobe.labels.agreement import agreement_rows


def _rows(code: str, gender: str, labels: dict) -> list[dict]:
    n = len(next(iter(labels.values())))
    return [{"code": code, "gender": gender, "utterances": n, **r} for r in agreement_rows(labels)]


def _utts(rng, n=30, frames=50, low=90.0, high=260.0):
    return [
        rng.uniform(low, high) * 2 ** (np.sin(np.linspace(0, rng.uniform(2, 9), frames)) * 3 / 12) for _ in range(n)
    ]


def test_headline_ceilings_use_the_triad_with_three_trackers_else_the_lowest_pair():
    rng = np.random.default_rng(0)
    truth = _utts(rng)
    labels = {k: [f * 2 ** (rng.normal(0, s, f.size) / 12) for f in truth] for k, s in (("a", 0.8), ("b", 0.2))}
    two = pd.DataFrame(_rows("xx", ALL, labels))
    got = headline_ceilings(two, "a").set_index("code").loc["xx"]
    assert got.ceiling_kind == "lowest between-tracker r"
    assert got.movement_ceiling == two.r_movement.iloc[0] and got.register_ceiling == two.r_register.iloc[0]
    labels["c"] = [f * 2 ** (rng.normal(0, 0.4, f.size) / 12) for f in truth]
    three = pd.DataFrame(_rows("xx", ALL, labels) + _rows("xx", "FEMALE", labels))
    got = headline_ceilings(three, "a").set_index("code").loc["xx"]
    assert got.ceiling_kind == "estimated (triad)" and got.movement_ceiling > three.r_movement.min()
    assert headline_ceilings(pd.DataFrame(), "a").empty


def test_a_gender_whose_labels_disagree_grossly_is_flagged_with_its_numbers():
    rng = np.random.default_rng(1)
    male = _utts(rng, low=80, high=110, frames=48)
    female = _utts(rng, low=190, high=240)
    halved = [f.copy() for f in male]
    for f in halved:
        f[::8] /= 2  # one frame in eight an octave down: 12.5 % gross errors
    rows = _rows("xx", "MALE", {"pyaapt": halved, "praat": male}) + _rows(
        "xx", "FEMALE", {"pyaapt": female, "praat": female}
    )
    rows += _rows("yy", "MALE", {"pyaapt": male, "praat": male})
    (sentence,) = gender_warnings(pd.DataFrame(rows), "pyaapt")
    assert sentence.startswith("xx: for MALE speakers the pyaapt labels and praat")
    assert "on 12.5% of the frames" in sentence and "12.5% an octave apart" in sentence
    assert gender_warnings(pd.DataFrame(rows), "pyaapt", threshold=0.2) == []
    assert WARN_GPE == 0.05


def test_independence_check_counts_shared_octave_errors_against_independent_ones():
    truth = {"u": np.full(1000, 150.0)}
    a, b = np.full(1000, 150.0), np.full(1000, 150.0)
    a[:100] = b[:100] = 300.0  # both an octave up on the same 100 frames
    a[500:550] = 75.0  # and a alone an octave down on 50 more
    b[900:] = 0.0  # b unvoiced on 100 frames: those frames are left out
    tab = independence_check({"a": {"u": a}, "b": {"u": b}}, {"a": truth, "b": truth})
    row = tab.iloc[0]
    assert (row.tracker_a, row.tracker_b, row.frames) == ("a", "b", 900)
    assert row.octave_a == pytest.approx(150 / 900) and row.octave_b == pytest.approx(100 / 900)
    assert row.joint == pytest.approx(100 / 900) and row.expected == pytest.approx(150 / 900 * 100 / 900)
