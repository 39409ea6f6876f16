"""What the report says about the labels: the estimated ceiling, the timing notes, which model frames offsets move."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr

from pitchprobe.analysis.labels import ceiling, offset_effect, reliability, reliability_table, timing_table
from pitchprobe.core.atomic import write_json
from pitchprobe.core.layout import label_timing_path
from pitchprobe.labels.agreement import agreement_rows

LABELS = {"first_centre_samples": 200, "hop_samples": 320}  # pYAAPT's nominal grid at 25/20 ms, 16 kHz


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


def _timing(applied: int) -> pd.DataFrame:
    return pd.DataFrame([{"tracker": "pyaapt", "applied offset (samples)": applied}])


def _models(*grids) -> pd.DataFrame:
    return pd.DataFrame(
        [{"model": f"m{i}", "first frame centre (samples)": f, "hop (samples)": h} for i, (f, h) in enumerate(grids)]
    )


def test_an_offset_under_half_a_model_hop_moves_no_label_to_another_frame():
    # 200 + 320 j - 47 is nearest to HuBERT's frame j (200 + 320 k) and to fbank's frame 2 j (200 + 160 k)
    text = offset_effect(LABELS, _timing(-47), _models((200, 320), (200, 160)))
    assert "would take: pyaapt, 0% with m0, 0% with m1." in text


def test_an_offset_past_half_a_model_hop_moves_every_label():
    # 200 + 320 j - 100 = 100 + 320 j: fbank frame 2 j - 1 (40 + 320 j, 60 away) beats 2 j (100 away)
    assert "pyaapt, 100% with m0." in offset_effect(LABELS, _timing(-100), _models((200, 160)))
    # a HuBERT-like grid 80 samples late: the nominal centres tie between two frames (to the later one);
    # moving the labels 40 samples early takes them all to the earlier one
    assert "pyaapt, 100% with m0." in offset_effect(LABELS, _timing(-40), _models((280, 160)))
    assert offset_effect(LABELS, _timing(0), _models((200, 160))) == ""


def test_only_the_probed_labels_offset_is_said_to_move_frames():
    timing = pd.DataFrame([{"tracker": "pyaapt", "applied offset (samples)": 0},
                           {"tracker": "praat", "applied offset (samples)": -100}])  # fmt: skip
    assert offset_effect(LABELS, timing, _models((200, 160))) == ""  # praat's labels are compared, not probed
    assert "praat, 100% with m0." in offset_effect({**LABELS, "tracker": "praat"}, timing, _models((200, 160)))


def test_timing_notes_name_a_consensus_and_a_timing_of_an_older_calibration(tmp_path):
    old = {"tracker": "pyaapt", "offset_ms": -4.86, "tolerance_ms": 1.0, "applied_offset_samples": 0,
           "by_signal": {"chirp_pair": -77.8, "vibrato": -17.1}, "sampling_rate": 16000}  # fmt: skip
    write_json(label_timing_path(tmp_path, "xx", tracker="pyaapt"), old)
    write_json(
        label_timing_path(tmp_path, "xx", tracker="consensus"), {"tracker": "consensus", "applied_offset_samples": -24}
    )
    tab = timing_table(tmp_path, ["xx"], ["pyaapt", "consensus"]).set_index("tracker")
    assert "older pitchprobe" in tab.loc["pyaapt", "note"] and pd.isna(tab.loc["pyaapt", "uncertainty (ms)"])
    assert "mean of its trackers" in tab.loc["consensus", "note"]
    assert tab.loc["consensus", "applied offset (samples)"] == -24
