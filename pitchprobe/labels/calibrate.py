"""Measured label timing: where a tracker's label frame ``k`` really sits, relative to where it is placed.

Every tracker's labels are placed on pYAAPT's grid (:mod:`pitchprobe.labels.trackers`):
frame ``k`` of an utterance is placed at ``params.frame_centres(n)[k]`` plus the tracker's own
per-utterance offset (:func:`~pitchprobe.labels.trackers.track_placed`: 0 for Praat and SwiftF0;
pYAAPT's correlation-window centre, :mod:`pitchprobe.labels.yaapt_windows`). What a label
describes may still sit elsewhere (filters with group delay, asymmetric windows, smoothing), so
the offset from the placed position is measured on signals whose F0 is known at every sample
and which carry it with **no delay**: zero-phase harmonic synthesis
(:func:`pitchprobe.data.synth.harmonic_signal`; a causal formant filter would delay the audio by
its group delay, 1.7-3.4 ms, which would then be mistaken for the tracker's). Two independent
signal families, in each of the registers :data:`REGISTERS_HZ` (100-300 Hz):

chirp pair
    A log-linear chirp up over ``CHIRP_ST`` semitones around the register and the same chirp down.
    For every voiced frame away from the edges, the time at which the *true* F0 equals the tracked
    F0, minus the frame's placed centre; median over the frames of each chirp. A tracker's level
    bias (pYAAPT reads a period of L samples as fs / (L + 1), 17-34 cents low) looks like a lag on
    the up-chirp and a lead on the down-chirp; as the two chirps cover the same F0s at the same
    rate, the mean of their medians cancels any bias that depends on F0 only.
vibrato
    The register ± ``VIBRATO_DEPTH_ST`` semitones at ``VIBRATO_RATE_HZ``: the tracked log-F0 at the
    placed centres fitted by least squares to ``a sin + b cos + c`` at the known rate; the phase
    lag over the known phase, as a time (a bias only moves ``c``).

utterance range
    The same vibrato after ``RANGE_LEAD_S`` of steady voicing ``RANGE_STEPS_ST`` semitones away (and a
    short glide): only the vibrato is measured, as above. A tracker whose timing depends on the whole
    utterance's F0 range (pYAAPT's lag range does) shows it here.

The offset is the mean over registers of the midpoint of the chirp-pair and vibrato estimates, and its
uncertainty the largest distance of any one estimate (register, family, utterance range) from it: under
any kind of movement and range measured, a label sits at most that far from where it is placed.
Each signal is made ``REPEATS`` times, its start shifted by a fraction of a hop each time, so that
the frames sample the F0 track (and a tracker's F0 quantisation) at different phases; the spread of
the repeats' chirp-pair values is the calibration's own resolution
(:attr:`TrackerTiming.spread_samples`). The same estimates taken at the *nominal* centres show how
far the placement rule moved the labels (``by_register[...]["nominal"]``).

Measured here (``calibrate_tracker``, default settings): Praat and SwiftF0 sit within 0.1 ms of their
nominal centres; pYAAPT's content sits 1-2 ms before its nominal centre at 25 ms frames and 5-6 ms
before it at 35 ms frames, by an amount that changes with the register, and within about 0.5 ms of
its placed centres (``benchmarks/bench_timing.py`` prints the numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from pitchprobe.core.audio import SAMPLING_RATE
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.timing import TIMING_TOLERANCE_MS, applied_offset, samples_to_ms
from pitchprobe.data import synth
from pitchprobe.labels.pitch import DEFAULT_PARAMS, PitchParams
from pitchprobe.labels.timing_signals import (
    KINDS,
    RANGE_STEPS_ST,
    REGISTERS_HZ,
    REPEATS,
    VIBRATO_RATE_HZ,
    CalibrationSignal,
    Synthesis,
    calibration_signals,
    estimate_name,
    signal_settings,
)
from pitchprobe.labels.trackers import Tracked, grid_frames, track_placed, tracker_info

EDGE_GUARD_S = 0.08  # s; frames closer than this to a voicing edge are not used
MIN_USED_FRACTION = 0.5  # of a signal's inner frames that must be voiced and in range, else the calibration fails
ROBUST_CENTS = 100.0  # cents; vibrato frames off the first fit by more than this are dropped and the fit redone


@dataclass(frozen=True)
class TrackerTiming:
    """A tracker's measured label timing on the grid of ``params``.

    Attributes
    ----------
    tracker : str
    placement : str
        The tracker's placement rule (:data:`pitchprobe.core.timing.PLACEMENTS`), which the offsets are
        measured from.
    nominal_first_samples : int
        Nominal centre of frame 0, samples.
    hop_samples : int
    offset_samples : float
        Measured: frame ``k``'s label describes the signal at its placed centre plus this many samples
        (negative = earlier); over registers, the midpoint of the chirp-pair and vibrato estimates.
    offset_ms : float
    by_signal : dict
        Estimates in samples, each the mean over registers and repeats: ``chirp_up`` and ``chirp_down``
        (each moved by the tracker's F0 bias, in opposite directions), ``chirp_pair`` (their mean) and
        ``vibrato`` (independent).
    by_register : dict
        ``{register Hz (str): {"chirp_pair", "vibrato", "range<step>st"..., "nominal": {the same}}}``, samples
        from the placed centres, and from the nominal ones.
    tolerance_ms : float
    applied_offset_samples : int
        :func:`~pitchprobe.core.timing.applied_offset` of ``offset_samples``: what is added to the placement.
    median_error_cents : float
        Median absolute error of the labels, taken at their placed centres, on the calibration signals.
    spread_samples : float
        Standard error of the chirp-pair estimate over the shifted repeats: the calibration's own resolution.
    sampling_rate : int
        Hz.
    uncertainty_samples : float
        The largest distance of one (register, family, utterance range) estimate from ``offset_samples``: how far
        from where they are placed any kind of movement and range measured puts the labels.
    signals : dict
        :func:`signal_settings`.
    """

    tracker: str
    placement: str
    nominal_first_samples: int
    hop_samples: int
    offset_samples: float
    offset_ms: float
    by_signal: dict
    by_register: dict
    tolerance_ms: float
    applied_offset_samples: int
    median_error_cents: float
    spread_samples: float = float("nan")
    sampling_rate: int = SAMPLING_RATE
    uncertainty_samples: float = 0.0
    signals: dict = field(default_factory=signal_settings)

    @property
    def uncertainty_ms(self) -> float:
        return samples_to_ms(self.uncertainty_samples, self.sampling_rate)

    def nominal_range_ms(self) -> tuple[float, float]:
        """(lowest, highest) offset from the *nominal* centres over registers and families, ms."""
        values = [v for r in self.by_register.values() for v in r["nominal"].values()]
        return samples_to_ms(min(values), self.sampling_rate), samples_to_ms(max(values), self.sampling_rate)

    def as_dict(self) -> dict:
        """Plain Python values (JSON-ready)."""
        return {**asdict(self), "by_signal": dict(self.by_signal)}


def _inner(sig: CalibrationSignal, centres: np.ndarray, guard: int) -> np.ndarray:
    """(G,) bool: grid frames whose centre lies in the stretch measured, at least ``guard`` samples from its edges."""
    return (centres >= sig.start + guard) & (centres <= sig.stop - 1 - guard)


def _chirp_offset(tracked: np.ndarray, centres: np.ndarray, f0_true: np.ndarray, use: np.ndarray) -> float:
    """Samples: median over the used frames of where the true F0 equals the tracked F0, minus the frame's centre."""
    voiced = np.flatnonzero(f0_true > 0)
    log_true = np.log(f0_true[voiced])
    if log_true[-1] < log_true[0]:  # np.interp needs increasing x
        log_true, voiced = log_true[::-1], voiced[::-1]
    return float(np.median(np.interp(np.log(tracked[use]), log_true, voiced.astype(np.float64)) - centres[use]))


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
    """Samples: how far after its centre the tracked vibrato's phase says each label sits."""
    omega = 2 * np.pi * VIBRATO_RATE_HZ / fs
    samples = np.arange(int(np.ceil(centres[use][0])), int(centres[use][-1]) + 1)
    true_phase = _vibrato_phase(samples, np.log(f0_true[samples]), fs)
    lag = np.angle(np.exp(1j * (_vibrato_phase(centres[use], np.log(tracked[use]), fs) - true_phase)))
    return float(lag / omega)  # lag wrapped to (-pi, pi]: |offset| < half a vibrato period


def _estimate(sig: CalibrationSignal, tracked: np.ndarray, centres: np.ndarray, use: np.ndarray, fs: int) -> float:
    if sig.kind in ("vibrato", "range"):
        return _vibrato_offset(tracked, centres, use, sig.f0, fs)
    return _chirp_offset(tracked, centres, sig.f0, use)


def calibrate(
    track_fn: Callable[[np.ndarray, PitchParams], Tracked],
    *,
    params: PitchParams = DEFAULT_PARAMS,
    name: str = "custom",
    placement: str = "fixed",
    repeats: int = REPEATS,
    sampling_rate: int = SAMPLING_RATE,
    synthesis: Synthesis = synth.harmonic_signal,
) -> TrackerTiming:
    """Measure where ``track_fn``'s labels sit in time, relative to where it places them.

    Parameters
    ----------
    track_fn : callable
        ``track_fn(wav, params) -> Tracked``: ``wav`` float64 (N,); labels (grid_frames(N),) Hz, 0 = unvoiced,
        frame ``k`` placed at ``params.frame_centres(n)[k] + offset_samples``.
    params : PitchParams
    name, placement : str
        Recorded as :attr:`TrackerTiming.tracker` and :attr:`TrackerTiming.placement`.
    repeats : int
        Shifted repeats of each signal.
    synthesis : callable
        Makes the voiced signals (:func:`calibration_signals`); the default carries its F0 with no delay.

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
    est: dict[tuple[str, float, str], list[float]] = {}  # (kind, register, placed|nominal) -> per repeat
    cents = []
    for sig in calibration_signals(params=params, repeats=repeats, sampling_rate=fs, synthesis=synthesis):
        out = track_fn(sig.wav, params)
        tracked = np.asarray(out.f0_hz, dtype=np.float64)
        expected = grid_frames(sig.wav.size, params=params, sampling_rate=fs)
        if tracked.shape != (expected,):
            raise PitchProbeError(f"{name}: {tracked.shape} labels for {sig.name}, the grid has {expected} frames")
        nominal = params.frame_centres(expected, fs).astype(np.float64)
        placed = nominal + out.offset_samples
        inner = _inner(sig, placed, guard)
        lo, hi = sig.f0[sig.start : sig.stop].min(), sig.f0[sig.start : sig.stop].max()
        use = inner & (tracked > lo) & (tracked < hi) if sig.kind.startswith("chirp") else inner & (tracked > 0)
        if use.sum() < MIN_USED_FRACTION * inner.sum() or use.sum() < 3:
            raise PitchProbeError(
                f"{name}: only {use.sum()} of {inner.sum()} frames of {sig.name} voiced and in range: "
                "the calibration cannot measure this tracker"
            )
        cents.append(np.abs(1200 * np.log2(tracked[use] / sig.f0[np.rint(placed[use]).astype(np.int64)])))
        for where, centres in (("placed", placed), ("nominal", nominal)):
            est.setdefault((sig.estimate, sig.register_hz, where), []).append(_estimate(sig, tracked, centres, use, fs))
    by_register, pairs = {}, []
    for register in REGISTERS_HZ:
        entry = {}
        for where in ("placed", "nominal"):
            up, down = (np.asarray(est[k, register, where]) for k in ("chirp_up", "chirp_down"))
            if where == "placed":
                pairs.append((up + down) / 2)
            entry[where] = {
                "chirp_pair": float(np.mean((up + down) / 2)),
                "vibrato": float(np.mean(est["vibrato", register, where])),
                **{(e := estimate_name("range", st)): float(np.mean(est[e, register, where])) for st in RANGE_STEPS_ST},
            }
        by_register[f"{register:g}"] = {**entry["placed"], "nominal": entry["nominal"]}
    pair_values = np.concatenate(pairs)
    spread = float(np.std(pair_values, ddof=1) / np.sqrt(pair_values.size)) if pair_values.size > 1 else float("nan")
    by_signal = {k: float(np.mean([np.mean(est[k, r, "placed"]) for r in REGISTERS_HZ])) for k in KINDS[:3]}
    by_signal["chirp_pair"] = float(np.mean([r["chirp_pair"] for r in by_register.values()]))
    # one delay gives both kinds of signal, in every register, the same estimate; one that depends on the signal
    # is placed at the middle of them, and the estimates' largest distance from it is its uncertainty
    offset = (by_signal["chirp_pair"] + by_signal["vibrato"]) / 2
    each = [v for r in by_register.values() for k, v in r.items() if k != "nominal"]
    return TrackerTiming(
        tracker=name,
        placement=placement,
        nominal_first_samples=params.first_centre_samples(fs),
        hop_samples=params.hop_samples(fs),
        offset_samples=offset,
        offset_ms=samples_to_ms(offset, fs),
        by_signal=by_signal,
        by_register=by_register,
        tolerance_ms=TIMING_TOLERANCE_MS,
        applied_offset_samples=applied_offset(offset, sampling_rate=fs),
        median_error_cents=float(np.median(np.concatenate(cents))),
        spread_samples=spread,
        sampling_rate=fs,
        uncertainty_samples=float(np.max(np.abs(np.asarray(each) - offset))),
    )


def stretch_offsets(
    f0_hz: np.ndarray, centres: np.ndarray, f0_true: np.ndarray, *, max_shift: int = 480, min_frames: int = 5
) -> list[tuple[int, float, float]]:
    """Where labels sit, per voiced stretch of a signal of known F0: the shift that best lines them up with it.

    For each stretch of ``f0_true > 0`` with at least ``min_frames`` voiced labels inside it, the shift ``tau``
    (whole samples, ``|tau| <= max_shift``) minimising the mean of ``(log f0_hz[k] - c - log f0_true[centres[k] +
    tau])**2`` over its voiced labels, ``c`` the median difference (each term capped at 100 cents, so octave
    errors do not decide): ``c`` takes up any level bias of the tracker, so only the contour's *movement* places
    the labels. A flat stretch has no movement to place them by: use curved contours
    (:func:`pitchprobe.data.synth.moving_utterance`).

    Parameters
    ----------
    f0_hz : np.ndarray
        (G,) labels, Hz, 0 = unvoiced.
    centres : np.ndarray
        (G,) where they are placed, samples.
    f0_true : np.ndarray
        (N,) true F0 per sample, Hz, 0 = unvoiced.

    Returns
    -------
    list of (start, tau, median F0)
        Per stretch: its first sample, the shift in samples (positive: the labels describe the signal later
        than they are placed), and its median true F0 in Hz.
    """
    f0_hz, centres = np.asarray(f0_hz, dtype=np.float64), np.asarray(centres, dtype=np.int64)
    voiced = np.concatenate([[False], f0_true > 0, [False]])
    edges = np.flatnonzero(np.diff(voiced.astype(np.int8)))
    cap = (ROBUST_CENTS * np.log(2) / 1200) ** 2
    out = []
    for start, stop in zip(edges[::2], edges[1::2]):
        inside = (centres >= start + max_shift) & (centres < stop - max_shift) & (f0_hz > 0)
        if inside.sum() < min_frames:
            continue
        log_tr, c0 = np.log(f0_hz[inside]), centres[inside]
        taus = np.arange(-max_shift, max_shift + 1)
        d = log_tr[None, :] - np.log(f0_true[c0[None, :] + taus[:, None]])
        d -= np.median(d, axis=1, keepdims=True)
        cost = np.minimum(d**2, cap).mean(axis=1)
        out.append((int(start), float(taus[int(np.argmin(cost))]), float(np.median(f0_true[start:stop]))))
    return out


def calibrate_tracker(name: str, *, params: PitchParams = DEFAULT_PARAMS, repeats: int = REPEATS) -> TrackerTiming:
    """:func:`calibrate` of tracker ``name`` of :data:`~pitchprobe.labels.trackers.TRACKERS`, placed by its own rule
    (:func:`~pitchprobe.labels.trackers.track_placed`)."""
    return calibrate(
        lambda wav, p: track_placed(name, wav, params=p),
        params=params,
        name=name,
        placement=tracker_info(name).placement,
        repeats=repeats,
    )
