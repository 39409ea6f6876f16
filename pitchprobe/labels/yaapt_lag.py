"""pYAAPT with its lag off-by-one corrected: the ``pyaapt-fixed`` tracker's values.

amfm_decompy's pYAAPT turns the correlation peak of its time-domain tracker into a pitch
candidate in ``cmp_rate``: ``phi[k]`` is the normalised cross-correlation at a lag of ``k``
samples (``crs_corr`` fills ``phi[lag_min:lag_max]`` lag for lag), but the candidate is
``fs / (k + 1)``. A true period of ``L`` samples is therefore read as ``fs / (L + 1)``:
``1200 log2(L / (L + 1))`` cents low, -17 cents at 160 Hz and -34 cents at 320 Hz (16 kHz).

:func:`corrected_lags` runs amfm_decompy's own code with ``cmp_rate``'s result mapped back:
each nonzero candidate ``fs / (n + 1)`` becomes ``fs / n``. Nothing else changes (the spectral
track, the merits, the dynamic programming, the frames), so the frames sit where pYAAPT's do
and are placed by the same rule (:mod:`pitchprobe.labels.yaapt_windows`, whose wrapper of
``time_track`` composes with this one: ``time_track`` looks ``cmp_rate`` up in its module).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np

_LOCK = threading.Lock()  # one correction at a time per process (the module attribute is shared)


def corrected_rate(pitch: np.ndarray, fs: float) -> np.ndarray:
    """pYAAPT's candidates ``fs / (n + 1)`` as ``fs / n``.

    Parameters
    ----------
    pitch : np.ndarray
        (C,) Hz, ``cmp_rate``'s candidates; 0 = no candidate (left 0).
    fs : float
        Hz, the rate ``cmp_rate`` was given (pYAAPT's ``new_fs``).

    Returns
    -------
    np.ndarray
        float64 (C,), Hz: ``fs / n`` where ``n + 1 = round(fs / pitch)`` (an integer, up to float rounding).
    """
    pitch = np.asarray(pitch, dtype=np.float64)
    out = np.zeros_like(pitch)
    some = pitch > 0
    lag = np.rint(fs / pitch[some]) - 1.0  # samples: the lag of the correlation peak
    if np.any(lag < 1):
        raise ValueError(f"pYAAPT gave a candidate of a lag under 1 sample: {pitch[some][lag < 1][:3]} Hz at {fs} Hz")
    out[some] = fs / lag
    return out


@contextlib.contextmanager
def corrected_lags() -> Iterator[None]:
    """Inside the ``with`` block, pYAAPT called from this thread reads a period of ``L`` samples as ``fs / L``.

    ``amfm_decompy.pYAAPT.cmp_rate`` is wrapped and restored afterwards; the wrapper corrects only the calls of
    the thread that entered the block (another thread running plain pYAAPT meanwhile gets amfm_decompy's values).
    """
    import amfm_decompy.pYAAPT as pyaapt

    with _LOCK:
        original = pyaapt.cmp_rate
        owner = threading.get_ident()

        def correcting(phi, fs, maxcands, lag_min, lag_max, parameters):
            pitch, merit = original(phi, fs, maxcands, lag_min, lag_max, parameters)
            if threading.get_ident() != owner:
                return pitch, merit
            return corrected_rate(pitch, fs), merit

        pyaapt.cmp_rate = correcting
        try:
            yield
        finally:
            pyaapt.cmp_rate = original


__all__ = ["corrected_lags", "corrected_rate"]
