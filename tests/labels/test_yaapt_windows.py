"""pYAAPT's correlation windows: the recording leaves its values alone, and placing each utterance at its windows
puts the content where it is, whatever the utterance's F0 range (measured on delay-free signals)."""

import amfm_decompy.pYAAPT as pyaapt
import numpy as np
import pytest

from pitchprobe.core.errors import PitchProbeError
from pitchprobe.data.synth import harmonic_signal
from pitchprobe.labels import calibrate as cal
from pitchprobe.labels import timing_signals as sig
from pitchprobe.labels.pitch import PitchParams, track
from pitchprobe.labels.trackers import track_placed
from pitchprobe.labels.yaapt_windows import frame_offsets, recorded_windows, utterance_offset

FS = 16000
WITHIN = 16  # samples (1 ms)
PLACED_WITHIN = 32  # samples (2 ms): where placed labels sit at worst after a jump of 4-8 semitones in range


def _vibrato_after(preceding_hz: float, *, seed: int = 0):
    """(wave, true F0): 1 s of steady voicing at ``preceding_hz``, then 1.5 s of a 150 Hz ± 2 st, 5 Hz vibrato."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(1.5 * FS)) / FS
    vib = 150.0 * 2 ** (2 / 12 * np.sin(2 * np.pi * sig.VIBRATO_RATE_HZ * t))
    ramp = np.geomspace(preceding_hz, 150.0, int(0.1 * FS))  # a glide into the vibrato, no jump
    f0 = np.concatenate([np.full(FS, preceding_hz), ramp, vib])
    voiced = harmonic_signal(f0, rng=rng)
    lead = np.zeros(3200)
    wav = np.concatenate([lead, 0.5 * voiced / np.abs(voiced).max(), lead]) + 1e-4 * rng.standard_normal(f0.size + 6400)
    return wav, np.concatenate([lead, f0, lead]), 3200 + FS + ramp.size


def _vibrato_lag(f0_labels, centres, truth, start):
    """Samples: where the labels of the vibrato stretch sit, from ``centres`` (its phase lag)."""
    use = (centres > start + 1280) & (centres < truth.size - 3200 - 1280) & (f0_labels > 0)
    return cal._vibrato_offset(f0_labels, centres.astype(float), use, truth, FS)


def test_recording_the_windows_leaves_pyaapt_unchanged():
    wav, _, _ = _vibrato_after(200.0)
    plain = track(wav)
    with recorded_windows() as inputs:
        recorded = track(wav)
    np.testing.assert_array_equal(plain, recorded)
    assert pyaapt.time_track.__name__ == "time_track", "the original is back in place"
    assert len(inputs) == 2 and inputs[0].spec_pitch.size >= plain.size
    assert np.array_equal(inputs[0].spec_pitch, inputs[1].spec_pitch), "signal and nonlinear signal: same lags"


def test_the_window_model_follows_pyaapt_geometry():
    """A frame's offset is half the correlated span (window less the longest lag, plus the period), less the
    band-pass filter's delay and the nominal half frame: for a steady tone, exactly that number."""
    params = PitchParams()
    wav, _, _ = _vibrato_after(150.0)
    with recorded_windows() as inputs:
        f0 = track(wav)
    offsets = frame_offsets(f0, inputs[0], frame_size=params.frame_size_samples())
    p, w = inputs[0].parameters, inputs[0]
    k = int(np.flatnonzero(f0 > 0)[5])
    lag_max = int(np.fix(FS / max(w.spec_pitch[k] - 2 * w.pitch_std, p["f0_min"]))) + 2
    expected = (int(p["tda_frame_length"] * FS / 1000) - lag_max + FS / f0[k]) / 2 - p["bp_forder"] / 2 - 200
    assert offsets[k] == pytest.approx(expected)
    assert utterance_offset(f0, inputs, frame_size=400) == round(float(np.median(offsets[f0 > 0])))
    with pytest.raises(PitchProbeError, match="not called"):
        utterance_offset(f0, [], frame_size=400)


@pytest.mark.parametrize("frame_length_ms", [25.0, 35.0])
def test_placement_follows_the_utterance_range(frame_length_ms):
    """The same 150 Hz vibrato after 1 s of voicing at 150, 200 or 250 Hz: at the nominal centres its labels sit at
    times up to 8 ms apart (the lag range pYAAPT searches follows the utterance's F0 range); placed per utterance,
    each sits within 2 ms of its placed centres, and the three at most half as far apart. (pYAAPT's timing also
    moves within an utterance: that spread is the calibration's uncertainty, not removed here.)"""
    params = PitchParams(frame_length_ms=frame_length_ms)
    nominal_lags, placed_lags = [], []
    for preceding in (150.0, 200.0, 250.0):
        wav, truth, start = _vibrato_after(preceding)
        out = track_placed("pyaapt", wav, params=params)
        nominal = params.frame_centres(out.f0_hz.size)
        nominal_lags.append(_vibrato_lag(out.f0_hz, nominal, truth, start))
        placed_lags.append(_vibrato_lag(out.f0_hz, nominal + out.offset_samples, truth, start))
    assert max(nominal_lags) - min(nominal_lags) > 4 * WITHIN, nominal_lags
    assert max(abs(v) for v in placed_lags) < PLACED_WITHIN, placed_lags
    assert max(placed_lags) - min(placed_lags) < (max(nominal_lags) - min(nominal_lags)) / 2
