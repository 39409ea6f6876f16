"""What the report says about the labels: the timing notes, where the probed labels are placed, and which model
frames their placement moves."""

import numpy as np
import pandas as pd

from pitchprobe.analysis.labels import _pyaapt_sentence, offset_effect, placed_offsets, timing_table
from pitchprobe.core.atomic import write_json
from pitchprobe.core.layout import label_params_path, label_split_dir, label_timing_path
from pitchprobe.labels.make import label_row
from pitchprobe.labels.pitch import PitchParams
from pitchprobe.labels.store import write_part

LABELS = {"nominal_first_centre_samples": 200, "hop_samples": 320}  # pYAAPT's nominal grid at 25/20 ms, 16 kHz


def _models(*grids) -> pd.DataFrame:
    return pd.DataFrame(
        [{"model": f"m{i}", "first frame centre (samples)": f, "hop (samples)": h} for i, (f, h) in enumerate(grids)]
    )


def test_an_offset_under_half_a_model_hop_moves_no_label_to_another_frame():
    # 200 + 320 j - 47 is nearest to HuBERT's frame j (200 + 320 k) and to fbank's frame 2 j (200 + 160 k)
    text = offset_effect(LABELS, _models((200, 320), (200, 160)), placed=np.full(10, -47))
    assert "would take: 0% with m0, 0% with m1." in text and "placed -47 samples" in text


def test_an_offset_past_half_a_model_hop_moves_every_label():
    # 200 + 320 j - 100 = 100 + 320 j: fbank frame 2 j - 1 (40 + 320 j, 60 away) beats 2 j (100 away)
    assert "would take: 100% with m0." in offset_effect(LABELS, _models((200, 160)), placed=np.array([-100]))
    # a HuBERT-like grid 80 samples late: the nominal centres tie between two frames (to the later one);
    # moving the labels 40 samples early takes them all to the earlier one
    assert "would take: 100% with m0." in offset_effect(LABELS, _models((280, 160)), placed=np.array([-40]))
    assert offset_effect(LABELS, _models((200, 160)), placed=np.zeros(5, dtype=int)) == ""


def test_utterances_placed_differently_move_their_share_of_frames():
    # a quarter of the utterances placed -100 (every frame moves with fbank), the rest -47 (none moves)
    text = offset_effect(LABELS, _models((200, 160)), placed=np.array([-100, -47, -47, -47]))
    assert "would take: 25% with m0." in text and "5-95 %: -92 to -47, 4 utterances" in text


def test_placed_offsets_are_read_from_the_stored_rows(tmp_path):
    params = PitchParams()
    write_json(label_params_path(tmp_path, "xx", tracker="pyaapt"), params.as_json())
    rows = [
        label_row("a", params, offset=-13, num_samples=16000, f0_hz=np.zeros(48)),
        label_row("b", params, offset=-20, num_samples=16000, f0_hz=np.zeros(48)),
        label_row("c", params, offset=-99, status="failed", reason="silent", message="silent"),
    ]
    write_part(label_split_dir(tmp_path, "xx", "test", tracker="pyaapt"), rows, params)
    assert sorted(placed_offsets(tmp_path, ["xx", "yy"], "pyaapt")) == [-20, -13]  # failed rows and yy: none


def test_timing_notes_name_a_consensus_and_a_timing_of_an_older_calibration(tmp_path):
    old = {"tracker": "pyaapt", "offset_ms": -4.86, "tolerance_ms": 1.0, "applied_offset_samples": 0,
           "by_signal": {"chirp_pair": -77.8, "vibrato": -17.1}, "sampling_rate": 16000}  # fmt: skip
    write_json(label_timing_path(tmp_path, "xx", tracker="pyaapt"), old)
    write_json(label_timing_path(tmp_path, "xx", tracker="consensus"), {"tracker": "consensus"})
    tab = timing_table(tmp_path, ["xx"], ["pyaapt", "consensus"]).set_index("tracker")
    assert "older pitchprobe" in tab.loc["pyaapt", "note"] and "delayed reference" in tab.loc["pyaapt", "note"]
    assert pd.isna(tab.loc["pyaapt", "uncertainty (ms)"]) and tab.loc["pyaapt", "at nominal centres (ms)"] == ""
    assert "mean of its trackers' placed centres" in tab.loc["consensus", "note"]


def test_the_pyaapt_sentence_says_which_pyaapt_read_its_periods_how():
    labels = {"frame_length_ms": 25.0}
    timed = {"tracker": "pyaapt", "at nominal centres (ms)": "−3.9 to +0.3"}
    plain = _pyaapt_sentence(pd.DataFrame([timed]), labels)
    assert "amfm_decompy's, unchanged" in plain and "fs / (L + 1)" in plain and "−3.9 to +0.3 ms" in plain
    fixed = _pyaapt_sentence(pd.DataFrame([{**timed, "tracker": "pyaapt-fixed"}]), labels)
    assert "unchanged" not in fixed and "pyaapt-fixed reading a period of L samples as fs / L" in fixed
    assert _pyaapt_sentence(pd.DataFrame([{**timed, "tracker": "praat"}]), labels) == ""
