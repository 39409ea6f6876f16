"""F0 trackers on pYAAPT's grid: accuracy, agreement with the packages called directly, to_grid, missing packages."""

import dataclasses
import warnings

import amfm_decompy.basic_tools as basic
import amfm_decompy.pYAAPT as pyaapt
import numpy as np
import pytest

from pitchprobe.core.errors import AudioError, PitchProbeError, UnknownNameError
from pitchprobe.data.synth import harmonic_signal
from pitchprobe.labels import trackers
from pitchprobe.labels.pitch import PitchParams, track
from pitchprobe.labels.trackers import (
    DEFAULT_TRACKER,
    TRACKERS,
    TrackerMissingError,
    grid_frames,
    require,
    to_grid,
    track_with,
)

FS = 16000
NAMES = ("pyaapt", "pyaapt-fixed", "praat", "swift")
LEAD = 3200  # samples of noise floor around the voiced part
GUARD = 1600  # samples: frames this close to a voicing edge are not scored


def _wav(f0_track, *, seed=0, lead=LEAD, trail=LEAD):
    """(wave, true F0 per sample): noise floor, the voiced track at peak 0.5, noise floor."""
    rng = np.random.default_rng(seed)
    v = harmonic_signal(np.asarray(f0_track, dtype=np.float64), rng=rng)
    wav = np.concatenate([np.zeros(lead), 0.5 * v / np.max(np.abs(v)), np.zeros(trail)])
    f0 = np.concatenate([np.zeros(lead), f0_track, np.zeros(trail)])
    return wav + 1e-4 * rng.standard_normal(wav.size), f0


def _yaapt_frames(wav, params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return len(
            pyaapt.yaapt(basic.SignalObj(np.asarray(wav, dtype=np.float64), FS), **params.yaapt_kwargs()).samp_values
        )


SIGNALS = {
    "steady100": np.full(24000, 100.0),
    "steady160": np.full(24000, 160.0),
    "steady220": np.full(24000, 220.0),  # pYAAPT reads fs / (lag + 1): 1.7 % low here, 2 % near 240 Hz
    "glide120-200": np.geomspace(120.0, 200.0, 24000),
}


@pytest.mark.parametrize("signal", SIGNALS)
@pytest.mark.parametrize("name", NAMES)
def test_every_tracker_finds_a_known_f0_within_2_percent(name, signal):
    wav, f0 = _wav(SIGNALS[signal], seed=len(signal))
    got = track_with(name, wav)
    assert got.dtype == np.float64
    assert got.shape == (grid_frames(wav.size, params=PitchParams()),) == (_yaapt_frames(wav, PitchParams()),)
    centres = PitchParams().frame_centres(got.size)
    inner = (centres >= LEAD + GUARD) & (centres < wav.size - LEAD - GUARD)
    assert (got[inner] > 0).mean() > 0.95, "the voiced part is found voiced"
    truth = f0[centres[inner]]
    assert np.median(np.abs(got[inner] - truth) / truth) < 0.02


@pytest.mark.parametrize("n", [1400, 1401, 8000, 16001, 23999, 24321])
def test_every_tracker_gives_pyaapts_number_of_frames(n):
    wav = 0.1 * np.random.default_rng(n).standard_normal(n)
    want = _yaapt_frames(wav, PitchParams())
    assert grid_frames(n, params=PitchParams()) == want == len(range(200, n - 200, 320))
    for name in NAMES:
        assert track_with(name, wav).shape == (want,)
    params = PitchParams(frame_length_ms=35.0, frame_space_ms=10.0)
    assert grid_frames(n, params=params) == _yaapt_frames(wav, params)


def test_grid_of_short_inputs_is_empty():
    assert grid_frames(0) == grid_frames(400) == grid_frames(-5) == 0
    assert grid_frames(401) == 1


def test_pyaapt_tracker_is_pitch_track_unchanged():
    wav, _ = _wav(np.geomspace(130.0, 180.0, 16000))
    params = PitchParams(f0_min_hz=70.0, f0_max_hz=300.0)
    np.testing.assert_array_equal(track_with("pyaapt", wav, params=params), track(wav, params=params))
    assert DEFAULT_TRACKER == "pyaapt" and set(TRACKERS) == set(NAMES)


def _praat_direct(wav, params):
    """(sample positions, F0) of Praat's own frames, parselmouth called here."""
    import parselmouth

    sound = parselmouth.Sound(wav, sampling_frequency=FS)
    step = params.hop_samples() / 4 / FS
    pitch = sound.to_pitch_ac(time_step=step, pitch_floor=params.f0_min_hz, pitch_ceiling=params.f0_max_hz)
    sample_times = sound.xs()  # time of each sample, s
    return np.interp(pitch.xs(), sample_times, np.arange(sample_times.size)), pitch.selected_array["frequency"]


def _swift_direct(wav, params):
    from swift_f0 import SwiftF0

    result = SwiftF0(threads=1).detect(wav.astype(np.float32), FS, params.f0_min_hz, params.f0_max_hz)
    return result.timestamps * FS, np.where(result.confidence >= 0.5, result.pitch_hz, 0.0)


def _mixed_voicing(n):
    """(wave, F0): a glide interrupted by near-silence, so that voicing changes inside the signal."""
    a, _ = _wav(np.geomspace(110.0, 210.0, n // 2), seed=3, trail=1600)
    b, _ = _wav(np.geomspace(250.0, 150.0, n - n // 2 - 4800), seed=4, lead=1600, trail=0)
    return np.concatenate([a, b])


@pytest.mark.parametrize(
    "name, direct, params, n",
    [
        # 20 ms windows put grid centres at 160 + 320 k, where Praat's 5 ms frames fall for N = 1 mod 80
        ("praat", _praat_direct, PitchParams(frame_length_ms=20.0), 28801),
        # 32 ms windows and 16 ms hops put grid centres at 256 + 256 k: SwiftF0's own frames 1, 2, ...
        ("swift", _swift_direct, PitchParams(frame_length_ms=32.0, frame_space_ms=16.0), 28800),
    ],
)
def test_labels_equal_the_package_at_coincident_frames(name, direct, params, n):
    wav = _mixed_voicing(n)
    got = track_with(name, wav, params=params)
    times, f0 = direct(wav, params)
    centres = params.frame_centres(got.size)
    distance = np.abs(centres[:, None] - times[None, :])
    coincident = distance.min(axis=1) < 1e-6
    assert coincident.sum() >= got.size - 2, "the grid was chosen to fall on the tracker's frames"
    want = f0[distance.argmin(axis=1)][coincident]
    assert ((want > 0).mean() > 0.5) and ((want == 0).sum() >= 3), "voiced and unvoiced frames are compared"
    np.testing.assert_allclose(got[coincident], want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name, direct", [("praat", _praat_direct), ("swift", _swift_direct)])
def test_labels_between_the_packages_frames_interpolate_them(name, direct):
    params = PitchParams()  # default grid: no grid centre falls on a Praat or SwiftF0 frame
    wav = _mixed_voicing(28800)
    got = track_with(name, wav, params=params)
    times, f0 = direct(wav, params)
    centres = params.frame_centres(got.size)
    inside = (centres > times[0]) & (centres < times[-1])
    after = np.searchsorted(times, centres[inside])
    before = after - 1
    nearest = np.where(centres[inside] - times[before] <= times[after] - centres[inside], before, after)
    assert np.array_equal(got[inside] > 0, f0[nearest] > 0), "voiced iff the nearest frame is"
    both = (f0[before] > 0) & (f0[after] > 0)
    assert both.sum() > 0.5 * inside.sum()
    expected = np.exp(np.interp(centres[inside][both], times, np.log(np.where(f0 > 0, f0, 1.0))))
    np.testing.assert_allclose(got[inside][both], expected, rtol=1e-9)
    one = (f0[before] > 0) != (f0[after] > 0)
    np.testing.assert_array_equal(got[inside][one], f0[nearest][one])


def test_to_grid_on_hand_made_frames():
    times = np.array([0.0, 10.0, 20.0, 30.0, 40.0])  # hop 10
    f0 = np.array([100.0, 200.0, 0.0, 400.0, 400.0])
    centres = np.array([-15, -10, 0, 2.5, 5, 12, 15, 16, 25, 26, 35, 45, 50, 51])
    want = [
        0.0,  # 15 before the first frame: more than a hop
        100.0,  # exactly one hop before: the first frame
        100.0,  # on frame 0
        100.0 * 2**0.25,  # a quarter of the way from 100 to 200, log-linear
        np.sqrt(100.0 * 200.0),  # half-way
        200.0,  # nearest is frame 1 (voiced), frame 2 unvoiced: the nearest's value
        200.0,  # a tie goes to the earlier frame
        0.0,  # nearest is frame 2, unvoiced
        0.0,  # a tie between unvoiced frame 2 and voiced frame 3: the earlier, unvoiced
        400.0,  # nearest is frame 3
        400.0,  # between 400 and 400
        400.0,  # half a hop after the last frame
        400.0,  # one hop after
        0.0,  # more than a hop after
    ]
    np.testing.assert_allclose(to_grid(times, f0, centres), want, rtol=1e-12)
    # an explicit hop: the edges reach only 3 samples out
    np.testing.assert_array_equal(
        to_grid(times, f0, np.array([-3.0, -4.0, 43.0, 44.0]), hop_samples=3), [100, 0, 400, 0]
    )


def test_to_grid_edge_cases():
    assert to_grid(np.array([]), np.array([]), np.array([1.0, 2.0])).tolist() == [0.0, 0.0]
    assert to_grid(np.array([5.0]), np.array([150.0]), np.array([5.0, 6.0])).tolist() == [150.0, 0.0]
    assert to_grid(np.array([0.0, 8.0]), np.array([np.nan, 120.0]), np.array([1.0, 7.0])).tolist() == [0.0, 120.0]
    with pytest.raises(PitchProbeError, match="increasing"):
        to_grid(np.array([0.0, 0.0]), np.array([100.0, 100.0]), np.array([0.0]))


def test_a_missing_tracker_package_says_what_to_install(monkeypatch):
    fake = dataclasses.replace(TRACKERS["praat"], module="pitchprobe_no_such_module_for_tests")
    monkeypatch.setitem(trackers.TRACKERS, "praat", fake)
    hint = r"the praat tracker needs praat-parselmouth \(GPL-3\.0-or-later\): pip install 'pitchprobe\[trackers\]'"
    with pytest.raises(TrackerMissingError, match=hint):
        require("praat")
    wav, _ = _wav(np.full(8000, 150.0))
    with pytest.raises(TrackerMissingError, match=hint):
        track_with("praat", wav)
    assert require("swift").package == "swift-f0"


def test_an_unknown_tracker_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="pyaapt, pyaapt-fixed, praat, swift"):
        track_with("crepe", np.ones(4000))


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_rejected_before_the_tracker_runs(name):
    with pytest.raises(AudioError) as e:
        track_with(name, 0.1 * np.random.default_rng(0).standard_normal(1000))
    assert e.value.reason == "too_short"
    with pytest.raises(AudioError) as e:
        track_with(name, np.zeros(8000))
    assert e.value.reason == "silent"


def test_a_tracker_failure_is_pitch_failed_and_memory_errors_pass_through(monkeypatch):
    wav, _ = _wav(np.full(8000, 150.0))
    with pytest.raises(AudioError) as e:  # Praat refuses a pitch floor below 3 Hz
        track_with("praat", wav, params=PitchParams(f0_min_hz=1.0))
    assert e.value.reason == "pitch_failed" and "praat" in str(e.value)
    import swift_f0

    def oom(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(swift_f0.SwiftF0, "detect", oom)  # the fault injected into swift-f0, not into pitchprobe
    with pytest.raises(MemoryError):
        track_with("swift", wav)


def test_swift_range_is_clipped_to_the_models():
    import swift_f0

    assert (trackers.SWIFT_FMIN_HZ, trackers.SWIFT_FMAX_HZ) == (swift_f0.FMIN, swift_f0.FMAX)
    assert trackers.swift_range(PitchParams(f0_min_hz=20.0, f0_max_hz=5000.0)) == (swift_f0.FMIN, swift_f0.FMAX)
    assert trackers.swift_range(PitchParams()) == (60.0, 400.0)
    wav, _ = _wav(np.full(16000, 150.0))
    wide = track_with("swift", wav, params=PitchParams(f0_min_hz=20.0, f0_max_hz=5000.0))
    assert np.median(wide[wide > 0]) == pytest.approx(150.0, rel=0.02)
    with pytest.raises(PitchProbeError, match="outside SwiftF0") as e:
        track_with("swift", wav, params=PitchParams(f0_min_hz=3000.0, f0_max_hz=4000.0))
    assert not isinstance(e.value, AudioError), "a settings fault, not the file's"


def test_one_single_threaded_swift_detector_per_process():
    a, b = trackers._swift_detector(), trackers._swift_detector()
    assert a is b
    assert a.session.get_session_options().intra_op_num_threads == trackers.SWIFT_THREADS == 1
