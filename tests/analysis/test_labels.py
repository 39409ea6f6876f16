"""What the report says about the labels: the timing notes, and which model frames the applied offsets move."""

import pandas as pd

from pitchprobe.analysis.labels import offset_effect, timing_table
from pitchprobe.core.atomic import write_json
from pitchprobe.core.layout import label_timing_path

LABELS = {"first_centre_samples": 200, "hop_samples": 320}  # pYAAPT's nominal grid at 25/20 ms, 16 kHz


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
