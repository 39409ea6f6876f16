"""Label timing calibration: planted offsets are recovered, the tolerance rule, the calibration signals."""

import json

import numpy as np
import pytest

from pitchprobe.core.errors import PitchProbeError, UnknownNameError
from pitchprobe.data.synth import voiced_signal
from pitchprobe.labels import calibrate as cal
from pitchprobe.labels.calibrate import (
    TIMING_TOLERANCE_MS,
    applied_offset,
    calibrate,
    calibrate_tracker,
    calibration_signals,
)
from pitchprobe.labels.pitch import PitchParams
from pitchprobe.labels.trackers import grid_frames, track_with

FS = 16000
PLANT_WITHIN = 16  # samples (1 ms): how closely a planted offset must be recovered


def delayed(name: str, delay: int):
    """``name``'s tracker run on the audio delayed by ``delay`` samples (advanced if negative), length kept.

    The labels of frame ``k`` then describe what the original signal held ``delay`` samples *earlier*
    than before: the planted offset is ``-delay``.
    """

    def track_fn(wav, params):
        n = wav.size
        if delay >= 0:
            moved = np.concatenate([np.zeros(delay), wav[: n - delay]])
        else:
            moved = np.concatenate([wav[-delay:], np.zeros(-delay)])
        return track_with(name, moved, params=params)

    return track_fn


@pytest.fixture(scope="module")
def praat_timings():
    """Praat's timing with the audio delayed by 0, 80, -48 and -24 samples (one calibration each)."""
    return {d: calibrate(delayed("praat", d), params=PitchParams(), name=f"praat{d:+d}") for d in (0, 80, -48, -24)}


@pytest.mark.parametrize("delay", [80, -48])
def test_a_planted_offset_is_recovered_praat(praat_timings, delay):
    measured = praat_timings[delay].offset_samples - praat_timings[0].offset_samples
    assert measured == pytest.approx(-delay, abs=PLANT_WITHIN)
    vibrato = praat_timings[delay].by_signal["vibrato"] - praat_timings[0].by_signal["vibrato"]
    assert vibrato == pytest.approx(-delay, abs=PLANT_WITHIN), "the vibrato estimate sees it too"


@pytest.mark.slow
@pytest.mark.parametrize("delay", [80, -48])
def test_a_planted_offset_is_recovered_pyaapt(delay):
    plain = calibrate(delayed("pyaapt", 0), params=PitchParams())
    moved = calibrate(delayed("pyaapt", delay), params=PitchParams())
    assert moved.offset_samples - plain.offset_samples == pytest.approx(-delay, abs=PLANT_WITHIN)


def test_applied_offset_is_zero_within_tolerance_and_rounded_beyond():
    limit = TIMING_TOLERANCE_MS * FS / 1000  # 16 samples
    assert applied_offset(limit - 0.1) == applied_offset(-(limit - 0.1)) == applied_offset(0.0) == 0
    assert applied_offset(limit + 0.1) == 16 and applied_offset(-(limit + 0.6)) == -17
    assert applied_offset(-77.8) == -78 and isinstance(applied_offset(-77.8), int)
    assert applied_offset(10.0, tolerance_ms=0.5) == 10


def test_timings_apply_the_rule_to_their_own_measurement(praat_timings):
    for timing in praat_timings.values():
        chirps, vibrato = timing.by_signal["chirp_pair"], timing.by_signal["vibrato"]
        assert timing.offset_samples == pytest.approx((chirps + vibrato) / 2)
        assert timing.uncertainty_samples == pytest.approx(abs(chirps - vibrato) / 2)
        assert timing.offset_ms == pytest.approx(timing.offset_samples * 1000 / FS)
        beyond = abs(timing.offset_ms) > timing.tolerance_ms
        assert timing.applied_offset_samples == (round(timing.offset_samples) if beyond else 0)
        assert timing.estimates_agree, "Praat has one fixed delay: chirps and vibrato see the same"
    plain, advanced = praat_timings[0], praat_timings[-24]
    assert abs(plain.offset_ms) > TIMING_TOLERANCE_MS, "Praat's labels sit measurably early"
    assert abs(advanced.offset_ms) < TIMING_TOLERANCE_MS and advanced.applied_offset_samples == 0


def test_a_timing_is_plain_data(praat_timings):
    t = praat_timings[0]
    d = json.loads(json.dumps(t.as_dict()))
    assert d["tracker"] == "praat+0" and d["hop_samples"] == 320 and d["nominal_first_samples"] == 200
    assert set(d["by_signal"]) == {"chirp_up", "chirp_down", "chirp_pair", "vibrato"}
    assert (d["by_signal"]["chirp_pair"] + d["by_signal"]["vibrato"]) / 2 == pytest.approx(d["offset_samples"])
    assert d["uncertainty_samples"] == pytest.approx(abs(d["by_signal"]["chirp_pair"] - d["by_signal"]["vibrato"]) / 2)
    assert d["estimates_agree"] is True


@pytest.mark.parametrize("name", ["pyaapt", "swift"])
def test_calibration_resolution_is_well_below_the_tolerance(name, praat_timings):
    timing = calibrate_tracker(name, params=PitchParams())
    for t in (timing, praat_timings[0]):
        assert 0 < t.spread_samples * 1000 / FS < TIMING_TOLERANCE_MS
        assert t.median_error_cents < 50


def test_a_tracker_with_the_wrong_frames_or_no_voicing_is_refused():
    with pytest.raises(PitchProbeError, match="grid has"):
        calibrate(lambda wav, p: np.zeros(3), repeats=1)
    with pytest.raises(PitchProbeError, match="cannot measure"):
        calibrate(lambda wav, p: np.zeros(grid_frames(wav.size, params=p)), repeats=1)
    with pytest.raises(UnknownNameError):
        calibrate_tracker("crepe")


def test_calibration_signals_have_the_advertised_f0():
    params = PitchParams()
    signals = calibration_signals(params=params, repeats=4)
    assert [s.kind for s in signals] == ["chirp_up", "chirp_down", "vibrato"] * 4
    starts = {int(np.flatnonzero(s.f0 > 0)[0]) % params.hop_samples() for s in signals}
    assert len(starts) == 4, "each repeat starts at another phase of the hop"
    for s in signals:
        voiced = s.f0[s.f0 > 0]
        assert s.wav.shape == s.f0.shape and np.max(np.abs(s.wav)) == pytest.approx(cal.PEAK, rel=0.01)
        if s.kind == "chirp_up":
            assert np.all(np.diff(voiced) > 0) and voiced[0] == cal.CHIRP_LOW_HZ
        elif s.kind == "chirp_down":
            assert np.all(np.diff(voiced) < 0) and voiced[-1] == cal.CHIRP_LOW_HZ
        else:
            depth = 12 * np.log2(voiced.max() / voiced.min()) / 2
            assert depth == pytest.approx(cal.VIBRATO_DEPTH_ST, rel=0.01)
        truth = s.f0[params.frame_centres(grid_frames(s.wav.size))]
        tracked = track_with("praat", s.wav)
        inner = cal._inner(s.f0, params.frame_centres(tracked.size), 1600)
        assert np.median(np.abs(np.log2(tracked[inner] / truth[inner]))) * 1200 < 50


def test_voiced_signal_refuses_what_it_cannot_make():
    rng = np.random.default_rng(0)
    assert voiced_signal(np.full(800, 120.0), rng=rng).shape == (800,)
    with pytest.raises(ValueError, match="> 0"):
        voiced_signal(np.array([120.0, 0.0, 120.0]), rng=rng)
    with pytest.raises(UnknownNameError):
        voiced_signal(np.full(800, 120.0), rng=rng, vowel="y")


def test_a_signal_dependent_timing_is_placed_between_its_estimates():
    """pYAAPT's chirp-pair and vibrato estimates differ by more than the tolerance, both on the early side: its
    labels move to their midpoint, half their gap from each, nearer to the farther one than the nominal centre is."""
    timing = calibrate_tracker("pyaapt", params=PitchParams())
    chirps, vibrato = timing.by_signal["chirp_pair"], timing.by_signal["vibrato"]
    assert not timing.estimates_agree and chirps < vibrato < 0
    assert timing.applied_offset_samples == round((chirps + vibrato) / 2) < -TIMING_TOLERANCE_MS * FS / 1000
    assert timing.uncertainty_samples == pytest.approx((vibrato - chirps) / 2)
    assert timing.uncertainty_samples + 0.5 < max(abs(chirps), abs(vibrato)), "the worst case improves on 0"


@pytest.mark.slow
def test_pyaapt_labels_sit_a_fixed_time_after_the_frame_start_whatever_its_length():
    """pYAAPT's label content is anchored to the frame's start, not its centre: the measured offset from the nominal
    centre follows half the frame length (each estimate stays within 1 ms from 25 to 50 ms frames)."""
    after_start = {"chirp_pair": [], "vibrato": []}
    for frame_length_ms in (25.0, 50.0):
        params = PitchParams(frame_length_ms=frame_length_ms)
        timing = calibrate_tracker("pyaapt", params=params)
        start = params.first_centre_samples() - frame_length_ms * FS / 2000
        for kind, values in after_start.items():
            values.append(params.first_centre_samples() + timing.by_signal[kind] - start)
    for kind, (short, long) in after_start.items():
        assert abs(long - short) < TIMING_TOLERANCE_MS * FS / 1000, kind
