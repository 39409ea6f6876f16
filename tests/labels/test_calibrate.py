"""Label timing calibration on delay-free signals: trackers with no delay of their own measure none, a causal
filter in the reference would be mistaken for one, planted delays are recovered, pYAAPT's placement holds."""

import json

import numpy as np
import pytest
from scipy.signal import lfilter

from pitchprobe.core.errors import PitchProbeError, UnknownNameError
from pitchprobe.core.timing import TIMING_TOLERANCE_MS, samples_to_ms
from pitchprobe.data import synth
from pitchprobe.data.synth import harmonic_signal
from pitchprobe.labels import calibrate as cal
from pitchprobe.labels import timing_signals as sig
from pitchprobe.labels.calibrate import calibrate, calibrate_tracker, calibration_signals
from pitchprobe.labels.pitch import PitchParams
from pitchprobe.labels.trackers import Tracked, grid_frames, track_placed, track_with

FS = 16000
PLANT_WITHIN = 16  # samples (1 ms): how closely a planted offset must be recovered
NO_DELAY_MS = 0.5  # ms: a tracker with no delay of its own must measure within this of 0


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
        return track_placed(name, moved, params=params)

    return track_fn


def formant_filtered(f0_track, *, rng, sampling_rate=FS):
    """A causal formant synthesis (harmonics through Klatt resonators with lfilter): its audio lags its true F0
    by the resonators' group delay. The reference pitchprobe once timed trackers against."""
    phase = 2 * np.pi * np.cumsum(f0_track) / sampling_rate + rng.uniform(0, 2 * np.pi)
    k = np.arange(1, synth.N_HARMONICS + 1)[:, None]
    x = np.sum((k * f0_track[None, :] < 0.45 * sampling_rate) / k * np.sin(k * phase[None, :]), axis=0)
    for freq, bw in synth.VOWELS["a"]:
        r = np.exp(-np.pi * bw / sampling_rate)
        a = [1.0, -2 * r * np.cos(2 * np.pi * freq / sampling_rate), r * r]
        x = lfilter([sum(a)], a, x)
    return x / np.sqrt(np.mean(x**2))


@pytest.fixture(scope="module")
def praat_timings():
    """Praat's timing with the audio delayed by 0, 80 and -48 samples (one calibration each)."""
    return {
        d: calibrate(delayed("praat", d), params=PitchParams(), name=f"praat{d:+d}", repeats=2) for d in (0, 80, -48)
    }


@pytest.mark.parametrize("name", ["praat", "swift"])
def test_trackers_with_no_delay_of_their_own_measure_none(name):
    """Praat and SwiftF0 have no measurable delay on their own time stamps: on delay-free signals both families,
    in every register, put their labels within 0.5 ms of the nominal centres, and nothing is applied."""
    timing = calibrate_tracker(name, params=PitchParams())
    assert abs(timing.offset_ms) < NO_DELAY_MS and timing.applied_offset_samples == 0
    for register, est in timing.by_register.items():
        for family, value in est.items():
            if family != "nominal":  # chirp pair, vibrato, and the vibrato after each other range
                assert abs(samples_to_ms(value)) < NO_DELAY_MS, (register, family)
    assert timing.uncertainty_ms < NO_DELAY_MS
    assert timing.median_error_cents < 5, "delay-free signals are read within a few cents"


def test_a_causal_formant_filter_in_the_reference_would_be_mistaken_for_a_delay():
    """The same calibration against audio that passed a causal formant filter finds Praat early by the filter's
    group delay: the check above would fail on such a reference."""
    timing = calibrate(delayed("praat", 0), params=PitchParams(), name="praat", synthesis=formant_filtered, repeats=2)
    assert timing.offset_ms < -NO_DELAY_MS


@pytest.mark.parametrize("delay", [80, -48])
def test_a_planted_offset_is_recovered_praat(praat_timings, delay):
    assert praat_timings[delay].offset_samples == pytest.approx(-delay, abs=PLANT_WITHIN)
    vibrato = praat_timings[delay].by_signal["vibrato"]
    assert vibrato == pytest.approx(-delay, abs=PLANT_WITHIN), "the vibrato estimate sees it too"
    assert praat_timings[delay].applied_offset_samples == pytest.approx(-delay, abs=PLANT_WITHIN)


@pytest.mark.slow
@pytest.mark.parametrize("delay", [80, -48])
def test_a_planted_offset_is_recovered_pyaapt(delay):
    plain = calibrate(delayed("pyaapt", 0), params=PitchParams())
    moved = calibrate(delayed("pyaapt", delay), params=PitchParams())
    assert moved.offset_samples - plain.offset_samples == pytest.approx(-delay, abs=PLANT_WITHIN)


def test_timings_apply_the_rule_to_their_own_measurement(praat_timings):
    for timing in praat_timings.values():
        chirps, vibrato = timing.by_signal["chirp_pair"], timing.by_signal["vibrato"]
        assert timing.offset_samples == pytest.approx((chirps + vibrato) / 2)
        each = [v for r in timing.by_register.values() for k, v in r.items() if k != "nominal"]
        assert timing.uncertainty_samples == pytest.approx(max(abs(e - timing.offset_samples) for e in each))
        assert chirps == pytest.approx(np.mean([r["chirp_pair"] for r in timing.by_register.values()]))
        assert timing.offset_ms == pytest.approx(timing.offset_samples * 1000 / FS)
        beyond = abs(timing.offset_ms) > timing.tolerance_ms
        assert timing.applied_offset_samples == (round(timing.offset_samples) if beyond else 0)
        assert timing.uncertainty_ms < TIMING_TOLERANCE_MS, "one fixed delay: every register and signal agree"


def test_a_timing_is_plain_data(praat_timings):
    d = json.loads(json.dumps(praat_timings[0].as_dict()))
    assert d["tracker"] == "praat+0" and d["hop_samples"] == 320 and d["nominal_first_samples"] == 200
    assert d["placement"] == "fixed" and d["signals"] == sig.signal_settings()
    assert set(d["by_signal"]) == {"chirp_up", "chirp_down", "chirp_pair", "vibrato"}
    assert set(d["by_register"]) == {f"{r:g}" for r in sig.REGISTERS_HZ}
    assert (d["by_signal"]["chirp_pair"] + d["by_signal"]["vibrato"]) / 2 == pytest.approx(d["offset_samples"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pyaapt", "swift"])
def test_calibration_resolution_is_well_below_the_tolerance(name, praat_timings):
    timing = calibrate_tracker(name, params=PitchParams())
    for t in (timing, praat_timings[0]):
        assert 0 < t.spread_samples * 1000 / FS < TIMING_TOLERANCE_MS
        assert t.median_error_cents < 50


def test_a_tracker_with_the_wrong_frames_or_no_voicing_is_refused():
    with pytest.raises(PitchProbeError, match="grid has"):
        calibrate(lambda wav, p: Tracked(np.zeros(3)), repeats=1)
    with pytest.raises(PitchProbeError, match="cannot measure"):
        calibrate(lambda wav, p: Tracked(np.zeros(grid_frames(wav.size, params=p))), repeats=1)
    with pytest.raises(UnknownNameError):
        calibrate_tracker("crepe")


def test_calibration_signals_have_the_advertised_f0():
    params = PitchParams()
    signals = calibration_signals(params=params, repeats=4)
    kinds = ["chirp_up", "chirp_down", "vibrato"] + ["range"] * len(sig.RANGE_STEPS_ST)
    assert [s.kind for s in signals] == kinds * 4 * len(sig.REGISTERS_HZ)
    starts = {int(np.flatnonzero(s.f0 > 0)[0]) % params.hop_samples() for s in signals}
    assert len(starts) == 4, "each repeat starts at another phase of the hop"
    for s in signals:
        voiced = s.f0[s.start : s.stop]
        assert np.all(voiced > 0) and np.all(s.f0[: s.start - (s.kind == "range") * 17600] == 0)
        assert s.wav.shape == s.f0.shape and np.max(np.abs(s.wav)) == pytest.approx(sig.PEAK, rel=0.01)
        centre = 12 * np.log2(np.sqrt(voiced.max() * voiced.min()) / s.register_hz)
        assert abs(centre) < 0.05, "each signal is centred on its register"
        if s.kind == "chirp_up":
            assert np.all(np.diff(voiced) > 0) and 12 * np.log2(voiced[-1] / voiced[0]) == pytest.approx(
                sig.CHIRP_ST, 0.01
            )
        elif s.kind == "chirp_down":
            assert np.all(np.diff(voiced) < 0)
        else:
            depth = 12 * np.log2(voiced.max() / voiced.min()) / 2
            assert depth == pytest.approx(sig.VIBRATO_DEPTH_ST, rel=0.01)
        if s.kind == "range":  # steady voicing step_st from the register, then the vibrato
            before = s.f0[s.start - 17600 : s.start - 1600]
            assert np.allclose(12 * np.log2(before / s.register_hz), s.step_st)
    for s in signals[:: len(signals) // 6]:  # Praat reads the delay-free truth within a few cents
        tracked = track_with("praat", s.wav)
        centres = params.frame_centres(tracked.size)
        inner = cal._inner(s, centres, 1600)
        assert np.median(np.abs(np.log2(tracked[inner] / s.f0[centres[inner]]))) * 1200 < 5


def test_harmonic_signal_refuses_what_it_cannot_make():
    rng = np.random.default_rng(0)
    assert harmonic_signal(np.full(800, 120.0), rng=rng).shape == (800,)
    with pytest.raises(ValueError, match="> 0"):
        harmonic_signal(np.array([120.0, 0.0, 120.0]), rng=rng)
    with pytest.raises(UnknownNameError):
        harmonic_signal(np.full(800, 120.0), rng=rng, vowel="y")


@pytest.mark.parametrize("frame_length_ms", [25.0, pytest.param(35.0, marks=pytest.mark.slow)])
def test_pyaapt_labels_sit_nearer_their_placed_centres_than_their_nominal_ones(frame_length_ms):
    """pYAAPT's content sits before its nominal centres, by an amount that changes with the register and the
    utterance's range (at 35 ms frames 4-9 ms before); placed per utterance at its correlation windows, the chirp
    pairs and vibratos sit within 1 ms of where they are placed, nothing more is applied, and the uncertainty over
    every register and range is at most half the spread at the nominal centres."""
    timing = calibrate_tracker("pyaapt", params=PitchParams(frame_length_ms=frame_length_ms))
    assert timing.placement == "pyaapt-window"
    lo, hi = timing.nominal_range_ms()
    assert lo < -2 and (frame_length_ms < 30 or hi < -4), "at the nominal centres the labels sit early"
    assert abs(timing.offset_ms) < TIMING_TOLERANCE_MS and timing.applied_offset_samples == 0
    for register in timing.by_register.values():
        assert abs(samples_to_ms(register["chirp_pair"])) < TIMING_TOLERANCE_MS
    assert timing.uncertainty_ms < max(abs(lo - timing.offset_ms), abs(hi - timing.offset_ms)) / 2


@pytest.mark.parametrize("planted", [-90, 0, 37])
def test_stretch_offsets_recover_a_planted_shift_whatever_the_level_bias(planted):
    """Labels that read the true F0 ``planted`` samples after their positions, 20 cents low and with an octave
    error here and there: each stretch's shift is the planted one, and its median F0 is reported."""
    rng = np.random.default_rng(3)
    wave, f0 = synth.moving_utterance(low_hz=110.0, high_hz=240.0, duration_s=3.0, rng=rng)
    positions = 200 + 320 * np.arange((f0.size - 400) // 320)
    labels = np.where(f0[positions + planted] > 0, f0[positions + planted] * 2 ** (-20 / 1200), 0.0)
    labels[::17] *= 2  # octave errors
    found = cal.stretch_offsets(labels, positions, f0)
    assert len(found) >= 4
    for start, tau, hz in found:
        assert tau == planted and f0[start] > 0 and (start == 0 or f0[start - 1] == 0) and 110 <= hz <= 240
