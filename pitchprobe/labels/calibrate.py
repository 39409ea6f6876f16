"""Measured label timing: where a tracker's label frame ``k`` really sits, relative to its nominal centre.

Every tracker's labels are placed on pYAAPT's grid (:mod:`pitchprobe.labels.trackers`):
frame ``k`` is *nominally* centred at ``params.frame_centres(n)[k]``. What a label
describes may sit elsewhere (filters with group delay, asymmetric windows,
smoothing), so the offset is measured on synthetic voiced signals whose F0 is
known at every sample (:func:`pitchprobe.data.synth.voiced_signal`):

chirp pair
    A log-linear chirp up (``CHIRP_LOW_HZ`` to ``CHIRP_HIGH_HZ``) and the same chirp
    down. For every voiced frame away from the edges, the time at which the *true*
    F0 equals the tracked F0, minus the frame's nominal centre; median over the
    frames of each chirp. A tracker's level bias (pYAAPT reads F0 low by about
    ``1 / lag``, 10-30 cents) looks like a lag on the up-chirp and a lead on the
    down-chirp; as the two chirps cover the same F0s at the same rate, the mean of
    their medians cancels any bias that depends on F0 only.
vibrato
    ``VIBRATO_HZ`` ± ``VIBRATO_DEPTH_ST`` semitones at ``VIBRATO_RATE_HZ``: the tracked
    log-F0 at the nominal centres fitted by least squares to ``a sin + b cos + c`` at the
    known rate; the phase lag over the known phase, as a time. An independent estimate
    (a bias only moves ``c``).

A tracker with one fixed delay gives both estimates alike (Praat, SwiftF0). One whose
timing depends on the signal does not: pYAAPT's label content sits a fixed time after
the frame's *start* whatever the frame length, about 7.7 ms on the chirps and 11.3 ms
on the vibrato at 16 kHz, so its offset from the nominal centre grows with the frame
length. The timing used is therefore the midpoint of the two estimates, with half
their gap as its uncertainty: under either kind of movement a label then sits at most
that far from where it is placed (1.9 ms for pYAAPT, against 4.9 ms at its nominal
centre).

Each signal is made ``REPEATS`` times, its start shifted by a fraction of a hop each
time, so that the frames sample the F0 track (and a tracker's F0 quantisation) at
different phases; the spread of the repeats' chirp-pair values is the calibration's
own resolution (:attr:`TrackerTiming.spread_samples`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from pitchprobe.core.audio import SAMPLING_RATE
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.data.synth import voiced_signal
from pitchprobe.labels.pitch import DEFAULT_PARAMS, PitchParams
from pitchprobe.labels.trackers import grid_frames, track_with

# The fastest F0 movements in speech are about 80 semitones/s (Xu & Sun 2002, "Maximum speed of pitch
# change and how it may relate to speech"): a label misplaced by 1 ms is then off by at most 8 cents, far
# below the 50-cent agreement threshold and below the trackers' own errors (pYAAPT: about 20 cents). The
# calibration resolves well under it: spread_samples is about 0.4 ms for pYAAPT (whose F0 comes in steps
# of fs / lag, 12-30 cents) and under 0.05 ms for Praat and SwiftF0. An offset within this is left alone.
TIMING_TOLERANCE_MS = 1.0  # ms
CHIRP_LOW_HZ = 110.0  # Hz, chirp start (up) / end (down)
CHIRP_HIGH_HZ = 275.0  # Hz, chirp end (up) / start (down): 15.9 semitones
CHIRP_S = 1.5  # s per chirp: 10.6 semitones/s
VIBRATO_HZ = 160.0  # Hz, vibrato centre
VIBRATO_DEPTH_ST = 2.0  # semitones, vibrato amplitude
VIBRATO_RATE_HZ = 5.0  # Hz, vibrato rate: at most 63 semitones/s
VIBRATO_S = 2.0  # s
LEAD_S = 0.2  # s of noise floor before and after the voiced part
EDGE_GUARD_S = 0.08  # s; frames closer than this to a voicing edge are not used
PEAK = 0.5  # full scale 1.0, peak of the voiced signal
NOISE_RMS = 1e-4  # full scale 1.0, white noise floor over the whole signal
REPEATS = 8  # starts per signal, spread over one hop
SEED = 0
MIN_USED_FRACTION = 0.5  # of a signal's inner frames that must be voiced and in range, else the calibration fails
ROBUST_CENTS = 100.0  # cents; vibrato frames off the first fit by more than this are dropped and the fit redone


@dataclass(frozen=True)
class CalibrationSignal:
    """One calibration signal: ``wav`` (N,) full scale 1.0 and its true F0 ``f0`` (N,), Hz per sample, 0 = unvoiced."""

    name: str
    kind: str  # "chirp_up", "chirp_down" or "vibrato"
    wav: np.ndarray
    f0: np.ndarray


@dataclass(frozen=True)
class TrackerTiming:
    """A tracker's measured label timing on the grid of ``params``.

    Attributes
    ----------
    tracker : str
    nominal_first_samples : int
        Nominal centre of frame 0, samples.
    hop_samples : int
    offset_samples : float
        Measured: frame ``k``'s label describes the signal at its nominal centre plus this many samples
        (negative = earlier); the midpoint of the chirp-pair and vibrato estimates.
    offset_ms : float
    by_signal : dict
        Estimates in samples, each the mean over the repeats: ``chirp_up`` and ``chirp_down`` (each
        moved by the tracker's F0 bias, in opposite directions), ``chirp_pair`` (their mean) and
        ``vibrato`` (independent).
    tolerance_ms : float
    applied_offset_samples : int
        ``round(offset_samples)`` if ``|offset_ms| > tolerance_ms``, else 0 (:func:`applied_offset`).
    median_error_cents : float
        Median absolute error of the labels, taken at their nominal centres, on the calibration signals.
    spread_samples : float
        Standard error of the chirp-pair estimate over the shifted repeats: the calibration's own resolution.
    sampling_rate : int
        Hz.
    uncertainty_samples : float
        Half the gap between the chirp-pair and vibrato estimates: how far from ``offset_samples`` either
        kind of movement puts the labels (about 0 for a tracker with one fixed delay; 1.9 ms for pYAAPT).
    """

    tracker: str
    nominal_first_samples: int
    hop_samples: int
    offset_samples: float
    offset_ms: float
    by_signal: dict
    tolerance_ms: float
    applied_offset_samples: int
    median_error_cents: float
    spread_samples: float = float("nan")
    sampling_rate: int = SAMPLING_RATE
    uncertainty_samples: float = 0.0

    @property
    def estimates_agree(self) -> bool:
        """Whether the chirp-pair and vibrato estimates agree within ``tolerance_ms`` (a tracker with one delay)."""
        return bool(2 * self.uncertainty_samples * 1000 / self.sampling_rate <= self.tolerance_ms)

    def as_dict(self) -> dict:
        """Plain Python values (JSON-ready), with :attr:`estimates_agree`."""
        return {**asdict(self), "by_signal": dict(self.by_signal), "estimates_agree": self.estimates_agree}


def applied_offset(
    offset_samples: float, *, tolerance_ms: float = TIMING_TOLERANCE_MS, sampling_rate: int = SAMPLING_RATE
) -> int:
    """Samples to move labels by: ``round(offset_samples)`` if it exceeds ``tolerance_ms`` in magnitude, else 0."""
    return int(round(offset_samples)) if abs(offset_samples) * 1000 / sampling_rate > tolerance_ms else 0


def calibration_signals(
    *,
    params: PitchParams = DEFAULT_PARAMS,
    repeats: int = REPEATS,
    seed: int = SEED,
    sampling_rate: int = SAMPLING_RATE,
) -> list[CalibrationSignal]:
    """The calibration signals: per repeat ``j``, a chirp up, a chirp down and a vibrato, ``j / repeats`` hop late.

    Returns
    -------
    list of CalibrationSignal
        ``3 * repeats`` signals, each about ``LEAD_S`` of noise floor, the voiced part, ``LEAD_S`` of noise floor.
    """
    fs = sampling_rate
    rng = np.random.default_rng(seed)
    hop = params.hop_samples(fs)
    n_chirp, n_vib = int(CHIRP_S * fs), int(VIBRATO_S * fs)
    u = np.arange(n_chirp) / n_chirp
    up = CHIRP_LOW_HZ * (CHIRP_HIGH_HZ / CHIRP_LOW_HZ) ** u
    t = np.arange(n_vib) / fs
    signals = []
    for j in range(repeats):
        lead = int(LEAD_S * fs) + (j * hop) // repeats
        phase = rng.uniform(0, 2 * np.pi)
        vib = VIBRATO_HZ * 2 ** (VIBRATO_DEPTH_ST / 12 * np.sin(2 * np.pi * VIBRATO_RATE_HZ * t + phase))
        for kind, track in (("chirp_up", up), ("chirp_down", up[::-1]), ("vibrato", vib)):
            f0 = np.concatenate([np.zeros(lead), track, np.zeros(int(LEAD_S * fs))])
            voiced = voiced_signal(track, rng=rng, sampling_rate=fs)
            wav = np.concatenate([np.zeros(lead), PEAK * voiced / np.max(np.abs(voiced)), np.zeros(int(LEAD_S * fs))])
            wav += NOISE_RMS * rng.standard_normal(wav.size)
            signals.append(CalibrationSignal(f"{kind}_{j}", kind, wav, f0))
    return signals


def _inner(f0_true: np.ndarray, centres: np.ndarray, guard: int) -> np.ndarray:
    """(G,) bool: grid frames whose centre lies in the voiced part, at least ``guard`` samples from its edges."""
    voiced = np.flatnonzero(f0_true > 0)
    return (centres >= voiced[0] + guard) & (centres <= voiced[-1] - guard)


def _chirp_offsets(tracked: np.ndarray, centres: np.ndarray, f0_true: np.ndarray, use: np.ndarray) -> np.ndarray:
    """(used,) samples: where the true F0 equals each used frame's tracked F0, minus the frame's centre."""
    voiced = np.flatnonzero(f0_true > 0)
    log_true = np.log(f0_true[voiced])
    if log_true[-1] < log_true[0]:  # np.interp needs increasing x
        log_true, voiced = log_true[::-1], voiced[::-1]
    return np.interp(np.log(tracked[use]), log_true, voiced.astype(np.float64)) - centres[use]


def _vibrato_phase(times: np.ndarray, log_f0: np.ndarray, fs: int) -> float:
    """Phase (rad) of the vibrato in ``log_f0`` (M,) at ``times`` (M,) samples: ``a sin + b cos + c``, robust fit."""
    omega = 2 * np.pi * VIBRATO_RATE_HZ / fs  # rad per sample
    t = times.astype(np.float64)
    design = np.column_stack([np.sin(omega * t), np.cos(omega * t), np.ones(t.size)])
    keep = np.ones(t.size, dtype=bool)
    for _ in range(2):  # fit, drop gross errors (octave jumps), fit again
        coef, *_ = np.linalg.lstsq(design[keep], log_f0[keep], rcond=None)
        keep = np.abs(log_f0 - design @ coef) * 1200 / np.log(2) < ROBUST_CENTS
    return float(np.arctan2(coef[1], coef[0]))  # a sin + b cos = R sin(omega t + phase)


def _vibrato_offset(tracked: np.ndarray, centres: np.ndarray, use: np.ndarray, f0_true: np.ndarray, fs: int) -> float:
    """Samples: how far after its nominal centre the tracked vibrato's phase says each label sits."""
    omega = 2 * np.pi * VIBRATO_RATE_HZ / fs
    samples = np.arange(centres[use][0], centres[use][-1] + 1)
    true_phase = _vibrato_phase(samples, np.log(f0_true[samples]), fs)
    lag = np.angle(np.exp(1j * (_vibrato_phase(centres[use], np.log(tracked[use]), fs) - true_phase)))
    return float(lag / omega)  # lag wrapped to (-pi, pi]: |offset| < half a vibrato period


def calibrate(
    track_fn: Callable[[np.ndarray, PitchParams], np.ndarray],
    *,
    params: PitchParams = DEFAULT_PARAMS,
    name: str = "custom",
    repeats: int = REPEATS,
    sampling_rate: int = SAMPLING_RATE,
) -> TrackerTiming:
    """Measure where ``track_fn``'s labels sit in time, relative to the nominal grid centres.

    Parameters
    ----------
    track_fn : callable
        ``track_fn(wav, params) -> f0``: ``wav`` float64 (N,), ``f0`` (grid_frames(N),) Hz, 0 = unvoiced,
        frame ``k`` nominally at ``params.frame_centres(n)[k]``.
    params : PitchParams
    name : str
        Recorded as :attr:`TrackerTiming.tracker`.
    repeats : int
        Shifted repeats of each signal.

    Returns
    -------
    TrackerTiming

    Raises
    ------
    PitchProbeError
        ``track_fn`` gave the wrong number of frames, or too few usable (voiced, in-range) frames.
    """
    if repeats < 1:
        raise PitchProbeError(f"calibration needs at least 1 repeat, got {repeats}")
    fs = sampling_rate
    guard = int(EDGE_GUARD_S * fs)
    per_kind: dict[str, list[float]] = {"chirp_up": [], "chirp_down": [], "vibrato": []}
    cents = []
    for sig in calibration_signals(params=params, repeats=repeats, sampling_rate=fs):
        tracked = np.asarray(track_fn(sig.wav, params), dtype=np.float64)
        expected = grid_frames(sig.wav.size, params=params, sampling_rate=fs)
        if tracked.shape != (expected,):
            raise PitchProbeError(f"{name}: {tracked.shape} labels for {sig.name}, the grid has {expected} frames")
        centres = params.frame_centres(expected, fs)
        inner = _inner(sig.f0, centres, guard)
        lo, hi = sig.f0[sig.f0 > 0].min(), sig.f0.max()
        use = inner & (tracked > lo) & (tracked < hi) if sig.kind != "vibrato" else inner & (tracked > 0)
        if use.sum() < MIN_USED_FRACTION * inner.sum():
            raise PitchProbeError(
                f"{name}: only {use.sum()} of {inner.sum()} frames of {sig.name} voiced and in range: "
                "the calibration cannot measure this tracker"
            )
        cents.append(np.abs(1200 * np.log2(tracked[use] / sig.f0[centres[use]])))
        if sig.kind == "vibrato":
            per_kind["vibrato"].append(_vibrato_offset(tracked, centres, use, sig.f0, fs))
        else:
            per_kind[sig.kind].append(float(np.median(_chirp_offsets(tracked, centres, sig.f0, use))))
    pairs = (np.asarray(per_kind["chirp_up"]) + np.asarray(per_kind["chirp_down"])) / 2
    spread = float(np.std(pairs, ddof=1) / np.sqrt(pairs.size)) if pairs.size > 1 else float("nan")
    by_signal = {kind: float(np.mean(values)) for kind, values in per_kind.items()}
    by_signal["chirp_pair"] = float(np.mean(pairs))
    # one delay gives both kinds of signal the same estimate; a signal-dependent timing is placed between them
    offset = (by_signal["chirp_pair"] + by_signal["vibrato"]) / 2
    return TrackerTiming(
        tracker=name,
        nominal_first_samples=params.first_centre_samples(fs),
        hop_samples=params.hop_samples(fs),
        offset_samples=offset,
        offset_ms=offset * 1000 / fs,
        by_signal=by_signal,
        tolerance_ms=TIMING_TOLERANCE_MS,
        applied_offset_samples=applied_offset(offset, sampling_rate=fs),
        median_error_cents=float(np.median(np.concatenate(cents))),
        spread_samples=spread,
        sampling_rate=fs,
        uncertainty_samples=abs(by_signal["chirp_pair"] - by_signal["vibrato"]) / 2,
    )


def calibrate_tracker(name: str, *, params: PitchParams = DEFAULT_PARAMS, repeats: int = REPEATS) -> TrackerTiming:
    """:func:`calibrate` of tracker ``name`` of :data:`~pitchprobe.labels.trackers.TRACKERS` (via ``track_with``)."""
    return calibrate(lambda wav, p: track_with(name, wav, params=p), params=params, name=name, repeats=repeats)
