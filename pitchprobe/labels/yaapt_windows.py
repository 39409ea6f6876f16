"""Where pYAAPT's F0 of frame ``k`` comes from in time: the centre of its correlation window.

amfm_decompy's pYAAPT picks each frame's F0 among candidates from its time-domain
tracker (``time_track``), refined by dynamic programming. For frame ``k`` that tracker
correlates, in the band-passed signal, the ``N = T - lag_max_k`` samples starting at the
frame's *start* ``k * hop`` with the same span ``L`` samples later, ``L`` the period and
``T`` the ``tda_frame_length`` window (35 ms unless given). The estimate therefore
describes the span's middle, ``k * hop + (N + L) / 2``; the band-pass filter before it is a
causal linear-phase FIR of ``bp_forder + 1`` taps, which delays the signal by
``bp_forder / 2`` samples. So frame ``k``'s content sits at::

    k * hop + (T - lag_max_k + L_k) / 2 - bp_forder / 2        samples

where ``lag_max_k = fix(fs / lo_k) + fix(nccf_pwidth / 2)`` and ``lo_k`` is the lower end of
the lag range pYAAPT searched: ``max(spec_pitch_k - 2 * pitch_std, f0_min)``, from its
spectral track of the *whole utterance* (``spec_pitch``, ``pitch_std``). The position
therefore moves with the utterance's F0 range: by several ms between a low steady voice and
a high, lively one. The nominal centre, ``fix(frame_size / 2) + k * hop``, is not where the
content is.

:func:`recorded_windows` records ``spec_pitch`` and ``pitch_std`` as pYAAPT passes them to
``time_track`` (the function runs unchanged, so the labels stay amfm_decompy's, value for
value); :func:`frame_offsets` turns them into each frame's offset from its nominal centre,
and :func:`utterance_offset` into one offset per utterance, where its labels are placed
(:data:`pitchprobe.core.timing.PYAAPT_WINDOW`). The remaining spread within an utterance
is measured by the calibration (:mod:`pitchprobe.labels.calibrate`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from pitchprobe.core.audio import SAMPLING_RATE
from pitchprobe.core.errors import AudioError, PitchProbeError

_LOCK = threading.Lock()  # one recording at a time per process (the module attribute is shared)


@dataclass(frozen=True)
class WindowInputs:
    """What pYAAPT's time-domain tracker was given for one utterance.

    Attributes
    ----------
    spec_pitch : np.ndarray
        float64 (frames,), Hz: the spectral F0 track that centres each frame's lag range.
    pitch_std : float
        Hz: the utterance's F0 spread that widens it.
    parameters : dict
        pYAAPT's parameters (``tda_frame_length`` ms, ``nccf_pwidth``, ``bp_forder``, ``f0_min``, ...).
    fs : float
        Hz, the rate of the signal correlated (``new_fs``: after pYAAPT's decimation).
    """

    spec_pitch: np.ndarray
    pitch_std: float
    parameters: dict
    fs: float


@contextlib.contextmanager
def recorded_windows() -> Iterator[list[WindowInputs]]:
    """Record the inputs of every ``time_track`` call made by pYAAPT inside the ``with`` block.

    Yields the list they are appended to (pYAAPT calls it twice per utterance, with the same inputs:
    for the signal and for its nonlinear version). ``time_track`` itself runs unchanged.
    """
    import amfm_decompy.pYAAPT as pyaapt

    seen: list[WindowInputs] = []
    with _LOCK:
        original = pyaapt.time_track

        def recording(signal, spec_pitch, pitch_std, pitch, parameters):
            seen.append(
                WindowInputs(np.array(spec_pitch, dtype=np.float64), float(pitch_std), dict(parameters), signal.new_fs)
            )
            return original(signal, spec_pitch, pitch_std, pitch, parameters)

        pyaapt.time_track = recording
        try:
            yield seen
        finally:
            pyaapt.time_track = original


def frame_offsets(
    f0: np.ndarray, inputs: WindowInputs, *, frame_size: int, sampling_rate: int = SAMPLING_RATE
) -> np.ndarray:
    """Samples from each frame's nominal centre ``fix(frame_size / 2) + k * hop`` to its content (module docstring).

    Parameters
    ----------
    f0 : np.ndarray
        (G,) Hz, pYAAPT's labels (0 = unvoiced): the period ``L`` of a voiced frame; an unvoiced frame
        takes the spectral track's.
    inputs : WindowInputs
        From :func:`recorded_windows`.
    frame_size : int
        pYAAPT's analysis window, samples.

    Returns
    -------
    np.ndarray
        float64 (G,); NaN where the time-domain tracker had no frame.
    """
    p = inputs.parameters
    dec = sampling_rate / inputs.fs  # pYAAPT's decimation factor (1 unless dec_factor is given)
    tda = int(p["tda_frame_length"] * inputs.fs / 1000)
    lo = np.maximum(inputs.spec_pitch - 2.0 * inputs.pitch_std, p["f0_min"])
    lag_max = np.fix(inputs.fs / lo) + int(np.fix(p["nccf_pwidth"] / 2.0))
    f0 = np.asarray(f0, dtype=np.float64)
    out = np.full(f0.size, np.nan)
    n = min(f0.size, lag_max.size)
    hz = np.where(f0[:n] > 0, f0[:n], inputs.spec_pitch[:n])
    period = np.where(hz > 0, inputs.fs / np.maximum(hz, 1e-9), np.nan)  # decimated samples
    out[:n] = dec * (tda - lag_max[:n] + period) / 2 - p["bp_forder"] / 2 - int(np.fix(frame_size / 2))
    return out


def utterance_offset(
    f0: np.ndarray, inputs: list[WindowInputs], *, frame_size: int, sampling_rate: int = SAMPLING_RATE
) -> int:
    """Samples to place one utterance's labels by: the median of :func:`frame_offsets` over its voiced frames
    (over every frame if none is voiced), rounded.

    Raises
    ------
    PitchProbeError
        If pYAAPT made no ``time_track`` call (another amfm_decompy version: a fault of the installation).
    AudioError
        ``pitch_failed`` if no frame of this file has an offset (a fault of the file, recorded as such).
    """
    if not inputs:
        raise PitchProbeError(
            "pYAAPT's time-domain tracker was not called as amfm_decompy 1.0.12 calls it: its frames cannot be placed"
        )
    offsets = frame_offsets(f0, inputs[0], frame_size=frame_size, sampling_rate=sampling_rate)
    f0 = np.asarray(f0)
    voiced = np.isfinite(offsets) & (f0 > 0)
    use = offsets[voiced] if voiced.any() else offsets[np.isfinite(offsets)]
    if use.size == 0:
        raise AudioError("pitch_failed", "pYAAPT gave no frame whose correlation window can be placed")
    return int(round(float(np.median(use))))


__all__ = ["WindowInputs", "frame_offsets", "recorded_windows", "utterance_offset"]
