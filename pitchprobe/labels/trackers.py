"""F0 trackers behind one interface, all giving labels on pYAAPT's frame grid.

Every tracker's labels are one value per frame of the *same* grid, pYAAPT's
``frames_pos``: for an ``N``-sample waveform the frames are centred at
``np.arange(fix(frame_size / 2), N - fix(frame_size / 2), hop)`` (``200 + 320 k``
at 16 kHz with the default :class:`~pitchprobe.labels.pitch.PitchParams`), so the
labels of different trackers compare frame for frame. A tracker with frames of
its own (Praat every quarter hop, SwiftF0 every 256 samples) is mapped onto the
grid by :func:`to_grid`.

Trackers (:data:`TRACKERS`):

============  ===================  ========  ==================================================
name          package              licence   what runs
============  ===================  ========  ==================================================
pyaapt        amfm_decompy         MIT       :func:`pitchprobe.labels.pitch.track`, unchanged
pyaapt-fixed  amfm_decompy         MIT       the same, a period of L samples read as fs / L, not
                                             fs / (L + 1) (:mod:`pitchprobe.labels.yaapt_lag`)
praat         praat-parselmouth    GPL-3.0+  Praat's autocorrelation pitch (``To Pitch (ac)``)
swift         swift-f0             MIT       SwiftF0's ONNX model, bundled in the wheel (offline)
============  ===================  ========  ==================================================

Where a tracker's labels really sit in time is placed by its rule (:func:`track_placed`:
pYAAPT's per utterance, :mod:`pitchprobe.labels.yaapt_windows`) and checked on delay-free
signals by :mod:`pitchprobe.labels.calibrate`.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pitchprobe.core.audio import SAMPLING_RATE, check_waveform
from pitchprobe.core.errors import AudioError, PitchProbeError, UnknownNameError
from pitchprobe.core.timing import FIXED, PYAAPT_WINDOW
from pitchprobe.labels.pitch import DEFAULT_PARAMS, PitchParams, track

DEFAULT_TRACKER = "pyaapt"
PYAAPT_TRACKERS = ("pyaapt", "pyaapt-fixed")  # amfm_decompy's pYAAPT: verbatim, and with its lag off-by-one fixed
INSTALL_HINT = "pip install 'pitchprobe[trackers]'"  # the optional dependencies of the non-default trackers
PRAAT_STEPS_PER_HOP = 4  # Praat frames per label hop: its time step is hop / 4 (5 ms at the default 20 ms hop)
SWIFT_THREADS = 1  # ONNX Runtime threads per detector: one tracker runs per worker process
SWIFT_FMIN_HZ = 46.875  # Hz, lowest pitch SwiftF0's model scores (swift_f0.FMIN); a lower f0_min is raised to it
SWIFT_FMAX_HZ = 2093.75  # Hz, highest pitch SwiftF0's model scores (swift_f0.FMAX); a higher f0_max is lowered to it
SWIFT_VOICED_CONFIDENCE = 0.5  # SwiftF0's calibrated confidence: voiced at or above this
SWIFT_HOP_SAMPLES = 256  # samples at 16 kHz, SwiftF0's fixed frame hop (swift_f0.core.HOP)


@dataclass(frozen=True)
class TrackerInfo:
    """One F0 tracker.

    Attributes
    ----------
    name : str
        Its key in :data:`TRACKERS`.
    package : str
        The pip package that provides it.
    module : str
        The module imported to run it (checked by :func:`require`).
    licence : str
        SPDX identifier of the package's licence.
    description : str
        One line: the method and settings.
    placement : str
        Where its frames are placed (:data:`pitchprobe.core.timing.PLACEMENTS`): ``fixed`` at the nominal
        centres (plus a measured offset, if any), or ``pyaapt-window`` per utterance.
    """

    name: str
    package: str
    module: str
    licence: str
    description: str
    placement: str = FIXED


TRACKERS: dict[str, TrackerInfo] = {
    "pyaapt": TrackerInfo(
        "pyaapt",
        "amfm_decompy",
        "amfm_decompy.pYAAPT",
        "MIT",
        "YAAPT (Zahorian & Hu 2008), pYAAPT port: spectral + NCCF candidates, dynamic programming",
        PYAAPT_WINDOW,
    ),
    "pyaapt-fixed": TrackerInfo(
        "pyaapt-fixed",
        "amfm_decompy",
        "amfm_decompy.pYAAPT",
        "MIT",
        "pYAAPT as above with its lag off-by-one fixed: a period of L samples read as fs / L, not fs / (L + 1) "
        "(17-34 cents low at 160-320 Hz)",
        PYAAPT_WINDOW,
    ),
    "praat": TrackerInfo(
        "praat",
        "praat-parselmouth",
        "parselmouth",
        "GPL-3.0-or-later",
        "Praat To Pitch (ac) (Boersma 1993) via parselmouth, time step hop / 4, mapped to the grid",
    ),
    "swift": TrackerInfo(
        "swift",
        "swift-f0",
        "swift_f0",
        "MIT",
        "SwiftF0 CNN (ONNX, bundled), 256-sample hop, voiced at confidence >= 0.5, mapped to the grid",
    ),
}


def same_method(a: str, b: str) -> bool:
    """Whether trackers ``a`` and ``b`` are one method (``pyaapt`` and ``pyaapt-fixed``): errors not independent."""
    return a == b or {a, b} <= set(PYAAPT_TRACKERS)


class TrackerMissingError(PitchProbeError):
    """A tracker whose package is not installed; the message names the package, its licence and the pip command."""


def tracker_info(name: str) -> TrackerInfo:
    """The :class:`TrackerInfo` of ``name``; :class:`UnknownNameError` listing the valid names otherwise."""
    if name not in TRACKERS:
        raise UnknownNameError("tracker", name, list(TRACKERS))
    return TRACKERS[name]


def require(name: str) -> TrackerInfo:
    """Check that tracker ``name`` can run: its module imports.

    Raises
    ------
    UnknownNameError
        ``name`` is not in :data:`TRACKERS`.
    TrackerMissingError
        Its module cannot be imported.
    """
    info = tracker_info(name)
    try:
        importlib.import_module(info.module)
    except ImportError as e:
        raise TrackerMissingError(
            f"the {info.name} tracker needs {info.package} ({info.licence}): {INSTALL_HINT} "
            f"(importing {info.module} failed: {e})"
        ) from e
    return info


def grid_frames(num_samples: int, *, params: PitchParams = DEFAULT_PARAMS, sampling_rate: int = SAMPLING_RATE) -> int:
    """Number of label frames of an ``num_samples``-sample waveform: ``len`` of pYAAPT's ``frames_pos``, 0 if none."""
    half = params.first_centre_samples(sampling_rate)
    return len(range(half, int(num_samples) - half, params.hop_samples(sampling_rate)))


def to_grid(
    times_samples: np.ndarray, f0: np.ndarray, centres: np.ndarray, *, hop_samples: float | None = None
) -> np.ndarray:
    """Map a tracker's own frames onto grid frame centres.

    A grid frame is voiced iff its nearest tracker frame is voiced (a tie goes
    to the earlier frame). Its value is the log-linear interpolation between
    the two tracker frames around it when both are voiced, else the nearest
    frame's value. A centre before the first or after the last tracker frame
    takes that frame's value only if it is at most one tracker hop away, else 0.

    Parameters
    ----------
    times_samples : np.ndarray
        Shape (M,), strictly increasing: the tracker's frame times in samples.
    f0 : np.ndarray
        Shape (M,), Hz, 0 = unvoiced.
    centres : np.ndarray
        Shape (G,): grid frame centres in samples.
    hop_samples : float, optional
        The tracker's hop in samples; by default the median spacing of
        ``times_samples`` (0 for a single frame: only a coincident centre takes it).

    Returns
    -------
    np.ndarray
        float64, shape (G,), Hz, 0 = unvoiced.
    """
    t = np.asarray(times_samples, dtype=np.float64)
    f = np.asarray(f0, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    if t.ndim != 1 or f.shape != t.shape:
        raise PitchProbeError(f"to_grid needs times and F0 of one shape (M,), got {t.shape} and {f.shape}")
    if t.size and not np.all(np.diff(t) > 0):
        raise PitchProbeError("to_grid needs strictly increasing tracker frame times")
    out = np.zeros(c.shape)
    if t.size == 0 or c.size == 0:
        return out
    f = np.where(np.isfinite(f) & (f > 0), f, 0.0)
    hop = (float(np.median(np.diff(t))) if t.size > 1 else 0.0) if hop_samples is None else float(hop_samples)
    right = np.clip(np.searchsorted(t, c, side="left"), 1, max(t.size - 1, 1))  # t[right - 1] < c <= t[right] inside
    left = right - 1
    if t.size == 1:
        left = right = np.zeros(c.shape, dtype=np.int64)
    nearest = np.where(np.abs(c - t[left]) <= np.abs(t[right] - c), left, right)
    value = f[nearest]
    inside = (c >= t[0]) & (c <= t[-1])
    both = inside & (f[left] > 0) & (f[right] > 0) & (right > left)
    if np.any(both):
        lo, hi = left[both], right[both]
        w = (c[both] - t[lo]) / (t[hi] - t[lo])
        value[both] = np.exp((1 - w) * np.log(f[lo]) + w * np.log(f[hi]))
    near_edge = np.minimum(np.abs(c - t[0]), np.abs(c - t[-1])) <= hop
    out[:] = np.where(inside | near_edge, value, 0.0)
    return out


def _pyaapt(wav: np.ndarray, params: PitchParams, sampling_rate: int, *, fixed: bool) -> tuple[np.ndarray, int]:
    from pitchprobe.labels.yaapt_lag import corrected_lags
    from pitchprobe.labels.yaapt_windows import recorded_windows, utterance_offset

    with corrected_lags() if fixed else contextlib.nullcontext(), recorded_windows() as inputs:
        f0 = track(wav, params=params, sampling_rate=sampling_rate)
    size = params.frame_size_samples(sampling_rate)
    return f0, utterance_offset(f0, inputs, frame_size=size, sampling_rate=sampling_rate)


def _praat(wav: np.ndarray, params: PitchParams, sampling_rate: int) -> np.ndarray:
    import parselmouth

    sound = parselmouth.Sound(wav, sampling_frequency=sampling_rate)
    step_samples = params.hop_samples(sampling_rate) / PRAAT_STEPS_PER_HOP
    pitch = sound.to_pitch_ac(
        time_step=step_samples / sampling_rate, pitch_floor=params.f0_min_hz, pitch_ceiling=params.f0_max_hz
    )
    times = (np.asarray(pitch.xs(), dtype=np.float64) - sound.x1) * sampling_rate  # sample i sits at x1 + i / fs
    f0 = np.asarray(pitch.selected_array["frequency"], dtype=np.float64)
    centres = params.frame_centres(grid_frames(wav.size, params=params, sampling_rate=sampling_rate), sampling_rate)
    return to_grid(times, f0, centres, hop_samples=step_samples)


@lru_cache(maxsize=1)
def _swift_detector():
    """One SwiftF0 detector per process (its construction allocates the ONNX session and thread pool)."""
    from swift_f0 import SwiftF0

    accepted = inspect.signature(SwiftF0).parameters
    return SwiftF0(**({"threads": SWIFT_THREADS} if "threads" in accepted else {}))


def release_detectors() -> None:
    """Drop this process's tracker sessions (SwiftF0's ONNX session and its threads), e.g. before forking."""
    _swift_detector.cache_clear()


def swift_range(params: PitchParams) -> tuple[float, float]:
    """``(fmin, fmax)`` in Hz passed to SwiftF0: ``params``' range clipped to the model's 46.875-2093.75 Hz."""
    fmin = min(max(params.f0_min_hz, SWIFT_FMIN_HZ), SWIFT_FMAX_HZ)
    fmax = max(min(params.f0_max_hz, SWIFT_FMAX_HZ), SWIFT_FMIN_HZ)
    if not fmin < fmax:
        raise PitchProbeError(
            f"an F0 range of {params.f0_min_hz:g}-{params.f0_max_hz:g} Hz lies outside SwiftF0's "
            f"{SWIFT_FMIN_HZ:g}-{SWIFT_FMAX_HZ:g} Hz"
        )
    return fmin, fmax


def _swift(wav: np.ndarray, params: PitchParams, sampling_rate: int) -> np.ndarray:
    fmin, fmax = swift_range(params)  # a settings fault, raised before anything is blamed on the file
    result = _swift_detector().detect(wav.astype(np.float32), sampling_rate, fmin, fmax)
    times = np.asarray(result.timestamps, dtype=np.float64) * sampling_rate  # frame k at k * 256 / 16000 s
    voiced = np.asarray(result.confidence) >= SWIFT_VOICED_CONFIDENCE
    f0 = np.where(voiced, np.asarray(result.pitch_hz, dtype=np.float64), 0.0)
    centres = params.frame_centres(grid_frames(wav.size, params=params, sampling_rate=sampling_rate), sampling_rate)
    return to_grid(times, f0, centres, hop_samples=SWIFT_HOP_SAMPLES * sampling_rate / SAMPLING_RATE)


_RUNNERS = {"praat": _praat, "swift": _swift}


@dataclass(frozen=True)
class Tracked:
    """One utterance's labels and where they sit.

    Attributes
    ----------
    f0_hz : np.ndarray
        float64 (G,), Hz, 0 = unvoiced, on the grid of :func:`grid_frames`.
    offset_samples : int
        Samples from the nominal centres to where the tracker's placement rule puts this utterance's
        frames (:attr:`TrackerInfo.placement`; 0 for ``fixed``).
    """

    f0_hz: np.ndarray
    offset_samples: int = 0


def track_placed(
    name: str, wav: np.ndarray, *, params: PitchParams = DEFAULT_PARAMS, sampling_rate: int = SAMPLING_RATE
) -> Tracked:
    """F0 of a waveform by tracker ``name``, on pYAAPT's frame grid, with where its frames sit.

    Parameters
    ----------
    name : str
        A key of :data:`TRACKERS`.
    wav : np.ndarray
        Shape (N,), full scale 1.0; converted to float64 (float32 for SwiftF0).
    params : PitchParams
        Grid (frame length and hop) and F0 range in Hz (clipped to SwiftF0's range for ``swift``).
    sampling_rate : int
        Hz.

    Returns
    -------
    Tracked
        ``f0_hz`` (grid_frames(N),): frame ``k`` nominally centred at
        ``params.first_centre_samples() + k * params.hop_samples()``, placed ``offset_samples`` from there.

    Raises
    ------
    UnknownNameError
        An unknown tracker.
    TrackerMissingError
        Its package is not installed.
    AudioError
        ``too_short``/``silent``/``not_finite``/``empty`` before the tracker runs, ``pitch_failed`` if it raises.
    MemoryError
        Not a fault of the file: left to the caller.
    """
    require(name)
    wav = np.asarray(wav, dtype=np.float64)
    check_waveform(wav)
    offset = 0
    if name in PYAAPT_TRACKERS:
        f0, offset = _pyaapt(wav, params, sampling_rate, fixed=name != "pyaapt")  # track() classifies its failures
    else:
        if name == "swift":
            swift_range(params)
        try:
            f0 = _RUNNERS[name](wav, params, sampling_rate)
        except MemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure inside the tracker is recorded as this file's reason
            raise AudioError("pitch_failed", f"{name} tracker failed: {type(e).__name__}: {e}") from e
    expected = grid_frames(wav.size, params=params, sampling_rate=sampling_rate)
    if f0.shape != (expected,):
        raise PitchProbeError(f"the {name} tracker gave {f0.shape} labels, the grid has {expected} frames")
    return Tracked(np.asarray(f0, dtype=np.float64), int(offset))


def track_with(
    name: str, wav: np.ndarray, *, params: PitchParams = DEFAULT_PARAMS, sampling_rate: int = SAMPLING_RATE
) -> np.ndarray:
    """The labels of :func:`track_placed` alone: float64 (grid_frames(N),), Hz, 0 = unvoiced."""
    return track_placed(name, wav, params=params, sampling_rate=sampling_rate).f0_hz


__all__ = [
    "DEFAULT_TRACKER",
    "PYAAPT_TRACKERS",
    "TRACKERS",
    "TrackerInfo",
    "Tracked",
    "TrackerMissingError",
    "grid_frames",
    "release_detectors",
    "require",
    "same_method",
    "swift_range",
    "to_grid",
    "track_placed",
    "track_with",
    "tracker_info",
]
