"""Measured model timing: where a model's frame ``k`` really sits, relative to its nominal centre.

A backend's frames are *nominally* centred at ``backend.nominal_grid.first + k * backend.nominal_grid.hop``
samples (the middle of the receptive field, :func:`~pitchprobe.models.base.measure_window`); the
measurement is always against that grid, whatever offset the backend is placed at now. What frame ``k``
describes may sit elsewhere (asymmetric trained weights, causal filters, feature deltas), so it is
measured with clicks (the labels' timing is measured in :mod:`pitchprobe.labels.calibrate`):

click response
    A reference signal (``seconds`` of seeded white noise at ``NOISE_RMS``) and, one click per signal,
    the same plus a one-sample impulse of ``CLICK_AMPLITUDE`` at sample ``p``, for ``clicks`` positions
    spread evenly over one hop. The response of frame ``k`` is ``r_k(p) = ||h_k(click) - h_k(ref)||^2``
    of the first state (layer 0, the most local; later transformer layers mix all frames). As the front
    end is (nearly) shift-invariant, the frames near a click sample one response curve at
    ``d = p - nominal_centre_k``, every ``hop / clicks`` samples over the pooled clicks. Click ``j`` sits
    at site ``j mod M`` (:func:`click_sites`, sites one half-width apart along the signal), in its own
    stretch of noise, so that the noise's effect on the response averages out: on fbank the offset
    spreads over noise seeds by 0.7 samples (std) with sites, by 2.6 with all clicks near one frame.
offset
    The response-weighted centroid of ``d`` over the frames with ``|d| <= half_width``
    (:func:`half_width_samples`: a few receptive fields, symmetric, so that a response spread evenly
    over all frames, from a group norm or a per-utterance normalisation, adds no bias). Frame ``k``
    describes the signal at its nominal centre plus ``offset`` samples (negative = earlier), the sign
    convention of the labels' (:mod:`pitchprobe.core.timing`).
extent
    The span of ``d`` holding the central ``EXTENT_FRACTION`` of the response.

Why an impulse: its position is exact (no pulse shape to add to the extent), and its spectrum flat, so
it excites every mel band and convolution filter alike. Why these levels: the click holds
``CLICK_AMPLITUDE**2 / (NOISE_RMS**2 * N)`` = 0.4 % of the reference's energy over 1.5 s, so a
statistic over the whole utterance (HuBERT-base's group norm, S3PRL fbank's CMVN) moves by about that
and leaves a floor under 1e-3 of the peak response; a click 10 times louder dominates the group norm's
variance and raises that floor 60-fold (measured on a random HuBERT-base). Locally it holds a quarter
of the noise energy of a 25 ms window: far above float32 rounding, far from saturating.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pitchprobe.core.align import FrameGrid
from pitchprobe.core.atomic import write_json
from pitchprobe.core.audio import SAMPLING_RATE
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.timing import TIMING_TOLERANCE_MS, applied_offset, samples_to_ms
from pitchprobe.models.base import Backend

NOISE_RMS = 0.01  # full scale 1.0, the reference white noise (-40 dBFS)
CLICK_AMPLITUDE = 0.1  # full scale 1.0, the one-sample impulse added to the reference
CLICKS = 32  # click positions over one hop
SECONDS = 1.5  # s, length of the reference signal
HALF_WIDTH_WINDOWS = 3  # receptive fields (window samples) each side of a click whose frames are used
HALF_WIDTH_HOPS = 4  # hops, the least half-width (for a centred STFT, window 0)
EXTENT_FRACTION = 0.9  # of the response, held by the reported extent
SEED = 0
CALIBRATION_VERSION = 2  # bump when the measurement changes: cached model timings of another version are redone


@dataclass(frozen=True)
class ClickResponse:
    """Pooled click responses of one backend's layer 0.

    Attributes
    ----------
    distance_samples : np.ndarray
        float64 (M,), sorted: ``p - nominal_centre_k``, samples, of every used (click, frame) pair.
    response : np.ndarray
        float64 (M,): ``r_k(p)``, the squared norm of the state's change, in the state's units squared.
    half_width_samples : float
        Only pairs with ``|distance| <= half_width_samples`` are kept.
    clicks, sites : int
        Click positions, and places along the signal they were spread over (:func:`click_sites`).
    """

    distance_samples: np.ndarray
    response: np.ndarray
    half_width_samples: float
    clicks: int
    sites: int

    def centroid(self) -> float:
        """Samples: the response-weighted mean distance (the measured offset)."""
        return float(np.sum(self.response * self.distance_samples) / np.sum(self.response))

    def extent(self, fraction: float = EXTENT_FRACTION) -> float:
        """Samples: the span of distance holding the central ``fraction`` of the response (linear interpolation)."""
        cum = np.cumsum(self.response) / np.sum(self.response)
        lo, hi = np.interp([(1 - fraction) / 2, (1 + fraction) / 2], cum, self.distance_samples)
        return float(hi - lo)


@dataclass(frozen=True)
class ModelTiming:
    """A model's measured frame timing (layer 0).

    Attributes
    ----------
    model : str
        The backend's tag.
    nominal_first_samples, hop_samples : float
        Nominal centre of frame 0 and hop, samples (``backend.nominal_grid``).
    offset_samples, offset_ms : float
        Measured: frame ``k`` describes the signal at its nominal centre plus this much (negative = earlier).
    extent_samples, extent_ms : float
        Span of the click response holding ``EXTENT_FRACTION`` of it.
    tolerance_ms : float
        :data:`~pitchprobe.core.timing.TIMING_TOLERANCE_MS`.
    applied_offset_samples : int
        ``round(offset_samples)`` if ``|offset_ms| > tolerance_ms``, else 0.
    clicks, sites : int
        Click positions, and places along the signal they were spread over.
    half_width_samples : float
        Frames within this many samples of a click entered the centroid.
    sampling_rate : int
        Hz.
    """

    model: str
    nominal_first_samples: float
    hop_samples: float
    offset_samples: float
    offset_ms: float
    extent_samples: float
    extent_ms: float
    tolerance_ms: float
    applied_offset_samples: int
    clicks: int
    sites: int
    half_width_samples: float
    sampling_rate: int = SAMPLING_RATE

    @property
    def grid(self) -> FrameGrid:
        """The frame centres with :attr:`applied_offset_samples` applied, samples."""
        return FrameGrid(first=self.nominal_first_samples + self.applied_offset_samples, hop=self.hop_samples)

    def as_dict(self) -> dict:
        """Plain Python values (JSON-ready)."""
        return asdict(self)


def half_width_samples(backend: Backend) -> float:
    """Samples each side of a click: ``max(HALF_WIDTH_WINDOWS * window, HALF_WIDTH_HOPS * hop)``."""
    return float(max(HALF_WIDTH_WINDOWS * backend.window, HALF_WIDTH_HOPS * backend.nominal_grid.hop))


def click_sites(backend: Backend, *, n_samples: int, clicks: int, half_width: float) -> np.ndarray:
    """Frame indices (M,) int64 of the click sites, one half-width apart, every click's frames within range.

    A click is within half a hop of its site's centre, and uses the frames within ``half_width`` of it.

    Raises
    ------
    PitchProbeError
        If ``n_samples`` leaves no room for one site.
    """
    grid = backend.nominal_grid
    last = grid.first + grid.hop * (backend.num_frames(n_samples) - 1)
    k_lo = int(np.ceil((half_width + grid.hop / 2) / grid.hop))
    k_hi = int(np.floor((last - half_width - grid.hop / 2 - grid.first) / grid.hop))
    if k_hi < k_lo:
        raise PitchProbeError(
            f"{n_samples / SAMPLING_RATE:.3f} s is too short to calibrate {backend.name}: each click needs the "
            f"frames within {half_width:.0f} samples of it, plus half a hop, inside its frames' centres"
        )
    step = max(1, int(np.ceil(half_width / grid.hop)))
    count = min(clicks, (k_hi - k_lo) // step + 1)
    return np.unique(np.round(np.linspace(k_lo, k_hi, count)).astype(np.int64))


def click_response(
    backend: Backend,
    *,
    clicks: int = CLICKS,
    seconds: float = SECONDS,
    seed: int = SEED,
    half_width: float | None = None,
) -> ClickResponse:
    """Click responses of ``backend``'s layer 0, pooled over ``clicks`` positions spread over one hop.

    Parameters
    ----------
    backend : Backend
        Run on ``clicks + 1`` equal-length signals (no padding), ``batch_size`` per forward pass.
    clicks : int
        Click positions, at least 2; ``d`` is sampled every ``hop / clicks`` samples.
    seconds : float
        s, length of the reference noise.
    seed : int
        Of the reference noise.
    half_width : float or None
        Samples; None: :func:`half_width_samples`.

    Raises
    ------
    PitchProbeError
        Too few clicks, a signal too short for the frames around the clicks, or no finite, positive response.
    """
    if clicks < 2:
        raise PitchProbeError(f"a click calibration needs at least 2 click positions, got {clicks}")
    grid = backend.nominal_grid
    hw = half_width_samples(backend) if half_width is None else float(half_width)
    n = int(round(seconds * SAMPLING_RATE))
    sites = click_sites(backend, n_samples=n, clicks=clicks, half_width=hw)
    j = np.arange(clicks)
    positions = np.round(grid.first + grid.hop * (sites[j % sites.size] - 0.5 + (j + 0.5) / clicks)).astype(np.int64)
    reference = (NOISE_RMS * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)
    wavs = [reference] + [reference.copy() for _ in positions]
    for wav, p in zip(wavs[1:], positions):
        wav[p] += CLICK_AMPLITUDE
    step = max(1, int(getattr(backend, "batch_size", 1)))
    states = [layers[0] for i in range(0, len(wavs), step) for layers in backend.forward(wavs[i : i + step])]
    centres = grid.centres(backend.num_frames(n))
    distances, responses = [], []
    for p, h in zip(positions, states[1:]):
        near = np.abs(p - centres) <= hw
        distances.append((p - centres)[near])
        responses.append((h - states[0]).double().pow(2).sum(dim=1).cpu().numpy()[near])
    d, r = np.concatenate(distances), np.concatenate(responses)
    if not (np.all(np.isfinite(r)) and r.sum() > 0):
        raise PitchProbeError(f"{backend.name}: the click response is not finite and positive; cannot place its frames")
    order = np.argsort(d, kind="stable")
    return ClickResponse(
        distance_samples=d[order], response=r[order], half_width_samples=hw, clicks=clicks, sites=int(sites.size)
    )


def calibrate_model(
    backend: Backend, *, clicks: int = CLICKS, seconds: float = SECONDS, seed: int = SEED
) -> ModelTiming:
    """Measure where ``backend``'s frames sit in time, relative to ``backend.nominal_grid`` (module docstring).

    Parameters are those of :func:`click_response`; costs ``clicks + 1`` forwards of ``seconds`` of audio.
    """
    resp = click_response(backend, clicks=clicks, seconds=seconds, seed=seed)
    offset, extent = resp.centroid(), resp.extent()
    return ModelTiming(
        model=backend.tag,
        nominal_first_samples=float(backend.nominal_grid.first),
        hop_samples=float(backend.nominal_grid.hop),
        offset_samples=offset,
        offset_ms=samples_to_ms(offset),
        extent_samples=extent,
        extent_ms=samples_to_ms(extent),
        tolerance_ms=TIMING_TOLERANCE_MS,
        applied_offset_samples=applied_offset(offset),
        clicks=clicks,
        sites=resp.sites,
        half_width_samples=resp.half_width_samples,
    )


def cached_timing(cache: Path) -> dict | None:
    """The model timing in ``cache``, if there is one of this :data:`CALIBRATION_VERSION` that reads; else None."""
    try:
        timing = json.loads(cache.read_text())
        float(timing["applied_offset_samples"])
    except (OSError, ValueError, KeyError, TypeError):  # none, or unreadable
        return None
    return timing if timing.get("calibration") == CALIBRATION_VERSION else None


def place_frames(backend: Backend, *, cache: Path) -> dict:
    """Place ``backend``'s frames where they were measured to sit: set its ``grid_offset`` to the applied offset
    of its timing, read from ``cache`` (a JSON file) or measured now (:func:`calibrate_model`) and written there.

    The study (one cache per run directory) and ``linear_regress.py`` (one per data root) both place frames
    here, so both align alike. A model whose click response cannot be measured keeps its nominal centres, and
    its timing says why.

    A cache of another :data:`CALIBRATION_VERSION`, or unreadable, is measured again and replaced.

    Returns
    -------
    dict
        The timing (:meth:`ModelTiming.as_dict`, or ``{"measured": False, "reason", "applied_offset_samples": 0}``),
        with ``calibration``: :data:`CALIBRATION_VERSION`.
    """
    timing = cached_timing(cache)
    if timing is None:
        try:
            timing = calibrate_model(backend).as_dict()
        except PitchProbeError as e:  # no finite click response: the model's frames keep their nominal centres
            timing = {"model": backend.tag, "measured": False, "reason": str(e), "applied_offset_samples": 0}
        timing["calibration"] = CALIBRATION_VERSION
        write_json(cache, timing)
    backend.grid_offset = float(timing["applied_offset_samples"])
    return timing
