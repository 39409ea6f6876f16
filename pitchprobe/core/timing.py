"""Frame timing, in one place: where label and model frames sit, and when a measured offset is applied.

Every frame sequence in pitchprobe is a grid of centres ``first + k * hop`` samples
(:class:`~pitchprobe.core.align.FrameGrid`). A grid is *nominal* when ``first`` is where the analysis
says (pYAAPT's ``fix(frame_size / 2)`` for labels, the middle of the receptive field for a model),
and *placed* when it is where the frames' content was measured to sit:

labels
    ``first = nominal + utterance offset + applied offset``. The utterance offset is the tracker's
    own placement rule (:data:`PLACEMENTS`): 0 for a tracker with one fixed timing (Praat, SwiftF0),
    and for pYAAPT the centre of the correlation window each frame's F0 came from
    (:mod:`pitchprobe.labels.yaapt_windows`), which moves with the utterance's F0 range. The applied
    offset is what the calibration (:mod:`pitchprobe.labels.calibrate`, on delay-free signals)
    still measures after that rule, applied by :func:`applied_offset`. Each utterance's placed
    ``first_centre_samples`` is stored with its labels, and exported with its predictions.
models
    ``first = nominal + applied offset``, the offset measured by click responses against the
    nominal grid (:mod:`pitchprobe.models.calibrate`).

The frames are then aligned by these placed centres (:mod:`pitchprobe.core.align`).
"""

from __future__ import annotations

import numpy as np

from pitchprobe.core.audio import SAMPLING_RATE

# The fastest F0 movements in speech are about 80 semitones/s (Xu & Sun 2002, "Maximum speed of pitch
# change and how it may relate to speech"): a frame misplaced by 1 ms is then off by at most 8 cents, far
# below the 50-cent agreement threshold and below pYAAPT's own level error (17-34 cents). A measured offset
# within this is left alone, so that measurement noise never moves frames.
TIMING_TOLERANCE_MS = 1.0  # ms

FIXED = "fixed"  # a tracker whose frames sit one fixed time from their nominal centres (Praat, SwiftF0)
PYAAPT_WINDOW = "pyaapt-window"  # per utterance: the centre of pYAAPT's correlation windows (labels.yaapt_windows)
PLACEMENTS = (FIXED, PYAAPT_WINDOW)


def ms_to_samples(ms: float, sampling_rate: int = SAMPLING_RATE) -> float:
    """Milliseconds to samples (not rounded)."""
    return ms * sampling_rate / 1000


def samples_to_ms(samples: float, sampling_rate: int = SAMPLING_RATE) -> float:
    """Samples to milliseconds."""
    return samples * 1000 / sampling_rate


def applied_offset(
    offset_samples: float, *, tolerance_ms: float = TIMING_TOLERANCE_MS, sampling_rate: int = SAMPLING_RATE
) -> int:
    """Samples to move frames by: ``round(offset_samples)`` if it exceeds ``tolerance_ms`` in magnitude, else 0.

    A non-finite offset (nothing measured) moves nothing.
    """
    if not np.isfinite(offset_samples):
        return 0
    return int(round(offset_samples)) if abs(samples_to_ms(offset_samples, sampling_rate)) > tolerance_ms else 0


def label_timing_identity(timing: dict | None) -> dict:
    """What of a stored label timing decides where the labels sit: ``{"placement", "offset_samples"}``.

    Labels stored before placements existed sit at their nominal centres plus their applied offset.
    A result's fingerprint records this (:func:`pitchprobe.probe.results.fingerprint`), so that labels
    placed anew make the results made from them stale.
    """
    timing = timing or {}
    return {
        "placement": str(timing.get("placement", FIXED)),
        "offset_samples": int(timing.get("applied_offset_samples", 0)),
    }


__all__ = [
    "FIXED",
    "PLACEMENTS",
    "PYAAPT_WINDOW",
    "TIMING_TOLERANCE_MS",
    "applied_offset",
    "label_timing_identity",
    "ms_to_samples",
    "samples_to_ms",
]
