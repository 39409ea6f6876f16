"""pyaapt-fixed: amfm_decompy's pYAAPT with a period of L samples read as fs / L, against steady zero-phase tones of
known period; pyaapt stays amfm_decompy's, value for value."""

import threading
import warnings

import amfm_decompy.basic_tools as basic
import amfm_decompy.pYAAPT as pyaapt
import numpy as np
import pytest

from pitchprobe.core.errors import PitchProbeError
from pitchprobe.data.synth import harmonic_signal
from pitchprobe.labels.consensus import consensus_params
from pitchprobe.labels.pitch import PitchParams, track
from pitchprobe.labels.trackers import TRACKERS, same_method, track_placed
from pitchprobe.labels.yaapt_lag import corrected_lags, corrected_rate
from pitchprobe.labels.yaapt_windows import recorded_windows

FS = 16000  # Hz
PERIODS = (125, 100, 80, 64, 50)  # samples at 16 kHz: 128, 160, 200, 250, 320 Hz
LEAD = 3200  # samples of noise floor around the tone
GUARD = 1600  # samples: frames this close to a voicing edge are not scored
FIXED_WITHIN_CENTS = 2.0
VERBATIM_WITHIN_CENTS = 0.5  # pyaapt's reading of fs / (L + 1)


def _tone(period: int, *, seed: int = 0) -> np.ndarray:
    """(N,) a 1.5 s steady zero-phase harmonic tone of ``period`` samples between noise floors, peak 0.5."""
    rng = np.random.default_rng(seed)
    v = harmonic_signal(np.full(24000, FS / period), rng=rng)
    wav = np.concatenate([np.zeros(LEAD), 0.5 * v / np.max(np.abs(v)), np.zeros(LEAD)])
    return wav + 1e-4 * rng.standard_normal(wav.size)


def _direct(wav: np.ndarray, params: PitchParams) -> np.ndarray:
    """amfm_decompy's ``yaapt(...).samp_values``, called here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(pyaapt.yaapt(basic.SignalObj(wav, FS), **params.yaapt_kwargs()).samp_values)


def _cents(f0: np.ndarray, wav: np.ndarray, params: PitchParams, hz: float) -> float:
    """Median cents of the voiced inner frames' F0 from ``hz``."""
    centres = params.frame_centres(f0.size)
    inner = (centres >= LEAD + GUARD) & (centres < wav.size - LEAD - GUARD) & (f0 > 0)
    assert inner.sum() > 40, "the tone is found voiced"
    return float(np.median(1200 * np.log2(f0[inner] / hz)))


@pytest.mark.parametrize("period", PERIODS)
def test_pyaapt_fixed_reads_a_steady_tone_within_2_cents_and_pyaapt_reads_it_as_fs_over_period_plus_1(period):
    params = PitchParams()
    wav = _tone(period, seed=period)
    fixed = track_placed("pyaapt-fixed", wav, params=params)
    plain = track_placed("pyaapt", wav, params=params)
    np.testing.assert_array_equal(plain.f0_hz, _direct(wav, params))
    assert abs(_cents(fixed.f0_hz, wav, params, FS / period)) < FIXED_WITHIN_CENTS
    low = 1200 * np.log2(period / (period + 1))  # -13.8 to -34.3 cents
    assert abs(_cents(plain.f0_hz, wav, params, FS / period) - low) < VERBATIM_WITHIN_CENTS
    assert np.array_equal(fixed.f0_hz > 0, plain.f0_hz > 0), "the same frames voiced"
    assert abs(fixed.offset_samples - plain.offset_samples) <= 1, "the same windows (the period moves half a sample)"


def test_the_correction_maps_each_candidate_to_its_lag_and_is_undone_afterwards():
    lags = np.array([49.0, 99.0, 124.0])  # phi's index n of the peak: amfm_decompy's candidate fs / (n + 1)
    np.testing.assert_allclose(corrected_rate(np.r_[FS / (lags + 1), 0.0], FS), np.r_[FS / lags, 0.0], rtol=1e-12)
    wav = _tone(80)
    with corrected_lags(), recorded_windows() as inputs:  # both wrappers at once, as pyaapt-fixed runs them
        fixed = track(wav)
    assert pyaapt.cmp_rate.__name__ == "cmp_rate" and pyaapt.time_track.__name__ == "time_track", "originals back"
    assert len(inputs) == 2, "time_track still recorded"
    np.testing.assert_array_equal(track(wav), _direct(wav, PitchParams()))
    assert abs(_cents(fixed, wav, PitchParams(), FS / 80)) < FIXED_WITHIN_CENTS


def test_another_thread_running_pyaapt_meanwhile_gets_amfm_decompys_values():
    wav = _tone(64)
    got = {}
    with corrected_lags():
        other = threading.Thread(target=lambda: got.update(plain=track(wav)))
        other.start()
        other.join()
        got["fixed"] = track(wav)
    np.testing.assert_array_equal(got["plain"], _direct(wav, PitchParams()))
    assert not np.array_equal(got["fixed"], got["plain"])


def test_pyaapt_fixed_is_one_tracker_with_pyaapt():
    info = TRACKERS["pyaapt-fixed"]
    assert (info.package, info.licence, info.placement) == ("amfm_decompy", "MIT", TRACKERS["pyaapt"].placement)
    assert "fs / L" in info.description
    assert same_method("pyaapt", "pyaapt-fixed") and not same_method("pyaapt-fixed", "praat")
    with pytest.raises(PitchProbeError, match="pyaapt and pyaapt-fixed are one tracker"):
        consensus_params(PitchParams(), ["pyaapt", "pyaapt-fixed", "praat"])
    assert consensus_params(PitchParams(), ["pyaapt-fixed", "praat"]).sources == ("pyaapt-fixed", "praat")


@pytest.mark.slow
def test_stored_pyaapt_fixed_labels_of_recorded_tones_read_their_period(tmp_path):
    """Labelled as a user's recordings are (gather, ``make_labels`` for ``--tracker pyaapt,pyaapt-fixed``)."""
    import soundfile as sf

    from pitchprobe.data.owncorpus import gather_folder
    from pitchprobe.labels.make import make_labels
    from pitchprobe.labels.store import read_labels

    (tmp_path / "rec").mkdir()
    for period in PERIODS:
        for copy in range(2):  # ten files: every split gets one
            sf.write(tmp_path / "rec" / f"p{period}-{copy}.wav", _tone(period, seed=copy), FS, subtype="FLOAT")
    root = tmp_path / "data"
    gather_folder(tmp_path / "rec", name="tones", root=root)
    labels = {}
    for tracker in ("pyaapt", "pyaapt-fixed"):
        make_labels("tones", root=root, params=PitchParams(tracker=tracker), progress=False, jobs=1)
        labels[tracker] = {
            lab.id: lab
            for split in ("train", "dev", "test")
            for lab in read_labels(root, "tones", split, tracker=tracker).values()
        }
    assert len(labels["pyaapt-fixed"]) == 2 * len(PERIODS)
    for uid, lab in labels["pyaapt-fixed"].items():
        period = int(uid.split("-")[0][1:])
        wav = sf.read(tmp_path / "rec" / f"{uid}.wav", dtype="float64")[0]
        assert abs(_cents(lab.f0_hz, wav, PitchParams(), FS / period)) < FIXED_WITHIN_CENTS, uid
        np.testing.assert_array_equal(labels["pyaapt"][uid].f0_hz, _direct(wav, PitchParams()))
