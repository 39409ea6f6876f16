"""Consensus labels made from stored trackers' labels, and a probe that fits and scores on trusted frames only."""

import json

import numpy as np
import pytest

from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.layout import label_timing_path
from pitchprobe.data.fleurs import LocalSource, gather
from pitchprobe.data.manifest import read_manifest
from pitchprobe.labels.consensus import CONSENSUS, at_centres, bias_free, consensus_params, make_consensus
from pitchprobe.labels.make import make_labels
from pitchprobe.labels.pitch import PitchParams
from pitchprobe.labels.store import LabelRecord, label_params, label_timing, read_labels
from pitchprobe.labels.trackers import to_grid
from pitchprobe.models import load_model
from pitchprobe.probe.run import run_probe

CENTS = 50.0
TRACKERS = ("pyaapt", "praat", "swift")


@pytest.fixture(scope="module")
def three(corpus, table, tmp_path_factory):
    root = tmp_path_factory.mktemp("consensus")
    gather([table["zz_contour"]], root=root, source=LocalSource(corpus))
    for t in TRACKERS:
        make_labels("zz_contour", root=root, params=PitchParams(tracker=t), jobs=2, progress=False)
    params = consensus_params(PitchParams(), TRACKERS)
    return root, params, make_consensus("zz_contour", root=root, params=params)


def _rule(f0s: np.ndarray) -> np.ndarray:
    """The rule, frame by frame, written out independently (ties and the member set as documented)."""
    out = np.full(f0s.shape[1], np.nan)
    for j in range(f0s.shape[1]):
        f = f0s[:, j]
        v = np.flatnonzero(f > 0)
        pairs = [(abs(1200 * np.log2(f[a] / f[b])), a, b) for i, a in enumerate(v) for b in v[i + 1 :]]
        if len(v) >= 2 and min(pairs)[0] <= CENTS + 1e-6:
            _, a, b = min(pairs, key=lambda p: p[0])
            centre = 0.5 * (np.log2(f[a]) + np.log2(f[b]))
            members = [k for k in v if abs(1200 * (np.log2(f[k]) - centre)) <= CENTS + 1e-6]
            out[j] = 2 ** np.mean(np.log2(f[members]))
        elif (f == 0).all():
            out[j] = 0.0
    return out


def _read(tracker, lab, centres) -> np.ndarray:
    """A source's labels at the consensus's centres, from where its own frames sit (to_grid, tested in
    test_trackers), pYAAPT's with a period of L samples read as fs / L, not amfm_decompy's fs / (L + 1)."""
    times = lab.first_centre_samples + lab.hop_samples * np.arange(lab.f0_hz.size)
    f0 = to_grid(times, lab.f0_hz, centres, hop_samples=lab.hop_samples)
    if tracker == "pyaapt":
        f0 = np.where(f0 > 0, 16000 / (np.rint(16000 / np.where(f0 > 0, f0, 1.0)) - 1), 0.0)
    return f0


def test_sources_are_read_at_the_same_true_time_and_on_one_scale():
    """A source placed 47 samples early is read at the consensus's centres (an exponential F0, whose log-linear
    interpolation is exact); pYAAPT's fs / (L + 1) values become fs / L; Praat's stay as they are."""
    hop, first = 320, 153
    times = first + hop * np.arange(20)
    lab = LabelRecord("u", "ok", None, None, 7000, hop, first, 100.0 * 2 ** (times / 16000))
    centres = 200 + hop * np.arange(20)
    got = at_centres(lab, centres)
    np.testing.assert_allclose(got[:-1], 100.0 * 2 ** (centres[:-1] / 16000), rtol=1e-12)
    assert at_centres(lab, times) is lab.f0_hz  # read where it sits: its own values
    periods = np.array([50.0, 64.0, 80.0, 100.0])
    read = np.array([16000 / (periods + 1), [0.0] * 4]).ravel()
    np.testing.assert_allclose(bias_free("pyaapt", read), np.r_[16000 / periods, [0.0] * 4], rtol=1e-12)
    assert bias_free("praat", read) is read


def test_consensus_rows_keep_exactly_the_frames_the_rule_says(three):
    root, _, summary = three
    frames = masked = 0
    for split in ("train", "dev", "test"):
        got = read_labels(root, "zz_contour", split, tracker=CONSENSUS)
        by = {t: read_labels(root, "zz_contour", split, tracker=t) for t in TRACKERS}
        assert set(got) == set(by["pyaapt"])
        for uid, lab in got.items():
            centres = lab.first_centre_samples + lab.hop_samples * np.arange(lab.f0_hz.size)
            firsts = [by[t][uid].first_centre_samples for t in TRACKERS]
            assert lab.first_centre_samples == round(np.mean(firsts))  # where the sources sit, on average
            want = _rule(np.stack([_read(t, by[t][uid], centres) for t in TRACKERS]))
            np.testing.assert_array_equal(np.isnan(lab.f0_hz), np.isnan(want))
            np.testing.assert_allclose(lab.f0_hz[~np.isnan(want)], want[~np.isnan(want)], rtol=1e-12)
            frames += lab.f0_hz.size
            masked += int(np.isnan(lab.f0_hz).sum())
        assert summary[split]["utterances"] == len(got)
    assert sum(s["frames"] for s in summary.values()) == frames
    assert sum(s["masked"] for s in summary.values()) == masked
    assert 0 < masked < frames  # synthetic speech: the trackers agree on most frames, not all
    assert label_params(root, "zz_contour", tracker=CONSENSUS).sources == TRACKERS


def test_a_probe_on_consensus_labels_uses_only_trusted_frames(three, tmp_path):
    root, _, _ = three
    res = run_probe(
        "zz_contour",
        root=root,
        backend=load_model("fbank", device="cpu"),
        alpha=0.0,
        labels=CONSENSUS,
        output=tmp_path / "c.json",
        progress=False,
    )
    for split in ("train", "dev", "test"):
        labs = read_labels(root, "zz_contour", split, tracker=CONSENSUS)
        trusted = sum(int((~np.isnan(lab.f0_hz)).sum()) for lab in labs.values())
        masked = sum(int(np.isnan(lab.f0_hz).sum()) for lab in labs.values())
        c = res.counts[split]
        # fbank has a frame for every label frame of these files: none dropped, so the counts are exact
        assert c.dropped_frames == 0
        assert (c.frames, c.masked_frames) == (trusted, masked)
    assert res.labels["tracker"] == CONSENSUS and res.labels["sources"] == list(TRACKERS)
    assert res.fingerprint["labels"]["tracker"] == CONSENSUS


def test_a_consensus_needs_two_trackers_and_their_labels(three, corpus, table, tmp_path):
    with pytest.raises(PitchProbeError, match="at least 2"):
        consensus_params(PitchParams(), ["pyaapt"])
    root = tmp_path / "d"
    gather([table["zz_level"]], root=root, source=LocalSource(corpus), splits=("test",))
    make_labels("zz_level", root=root, splits=("test",), progress=False)
    with pytest.raises(PitchProbeError, match="no praat pitch labels"):
        make_consensus("zz_level", root=root, params=consensus_params(PitchParams(), ["pyaapt", "praat"]))
    assert len(read_manifest(root, "zz_level")) > 0


def test_remaking_a_consensus_replaces_its_parts_and_keeps_its_rows(three):
    root, params, _ = three
    before = {s: read_labels(root, "zz_contour", s, tracker=CONSENSUS) for s in ("train", "dev", "test")}
    parts = sorted((root / "labels" / "zz_contour" / CONSENSUS).glob("*/part-*.parquet"))
    make_consensus("zz_contour", root=root, params=params)
    after = sorted((root / "labels" / "zz_contour" / CONSENSUS).glob("*/part-*.parquet"))
    assert len(after) == len(parts) and not set(after) & set(parts)  # new parts, old ones gone
    for s, labs in before.items():
        again = read_labels(root, "zz_contour", s, tracker=CONSENSUS)
        assert set(again) == set(labs)
        for uid, lab in labs.items():
            np.testing.assert_array_equal(again[uid].f0_hz, lab.f0_hz)


def test_a_tracker_that_cannot_be_calibrated_labels_at_its_nominal_centres(corpus, table, tmp_path):
    root = tmp_path / "d"
    gather([table["zz_level"]], root=root, source=LocalSource(corpus), splits=("test",))
    params = PitchParams(f0_max_hz=150.0, tracker="praat")  # the calibration reaches 270 Hz: too few frames in range
    s = make_labels("zz_level", root=root, params=params, splits=("test",), progress=False)
    assert s.ok == s.total > 0
    timing = label_timing(root, "zz_level", tracker="praat")
    assert timing["measured"] is False and "cannot" in timing["reason"] and timing["applied_offset_samples"] == 0
    lab = next(iter(read_labels(root, "zz_level", "test", tracker="praat").values()))
    assert lab.first_centre_samples == params.first_centre_samples()


def test_labels_measured_at_another_offset_are_not_mixed_with_new_ones(corpus, table, tmp_path):
    root = tmp_path / "d"
    gather([table["zz_level"]], root=root, source=LocalSource(corpus), splits=("test",))
    params = PitchParams(tracker="praat")
    make_labels("zz_level", root=root, params=params, splits=("test",), progress=False)
    path = label_timing_path(root, "zz_level", tracker="praat")
    path.write_text(json.dumps({**json.loads(path.read_text()), "applied_offset_samples": 7}))  # an older version's
    with pytest.raises(PitchProbeError, match="--overwrite"):
        make_labels("zz_level", root=root, params=params, splits=("test",), progress=False)
    make_labels("zz_level", root=root, params=params, splits=("test",), overwrite=True, progress=False)
    assert label_timing(root, "zz_level", tracker="praat")["applied_offset_samples"] != 7
