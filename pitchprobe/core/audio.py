"""Reading and checking audio.

Every stage reads audio through :func:`load_audio`, so a bad file is rejected
with the same reason everywhere. Reasons (``AudioError.reason``):

==============  ==========================================================
missing         the file does not exist
corrupt         libsndfile cannot decode it
empty           zero samples
multichannel    more than one channel (mix down with ``gather --from-dir``)
wrong_rate      sampling rate other than the one asked for
not_finite      NaN or infinite samples
silent          peak amplitude below ``SILENCE_PEAK``
too_short       fewer than ``min_samples`` samples
==============  ==========================================================
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from pitchprobe.core.errors import AudioError

SAMPLING_RATE = 16000  # Hz; FLEURS, HuBERT and pYAAPT labels all use it
SILENCE_PEAK = 1e-4  # full scale = 1.0; below this a file is taken as silent
MIN_SAMPLES = 1400  # samples; pYAAPT raises on anything shorter


def load_audio(
    path: str | os.PathLike,
    *,
    sampling_rate: int = SAMPLING_RATE,
    min_samples: int = MIN_SAMPLES,
) -> np.ndarray:
    """Read a mono file and check it.

    Parameters
    ----------
    path : path
        Any format libsndfile reads (WAV, FLAC, OGG, ...).
    sampling_rate : int
        Required rate in Hz; no resampling is done here.
    min_samples : int
        Shortest length accepted, in samples.

    Returns
    -------
    np.ndarray
        float64, shape (N,), full scale 1.0.

    Raises
    ------
    AudioError
        With ``reason`` as in the module docstring.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError("missing", f"{path}: file not found")
    if path.stat().st_size == 0:
        raise AudioError("empty", f"{path}: empty file (0 bytes)")
    try:
        data, rate = sf.read(path, dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, EOFError) as e:
        raise AudioError("corrupt", f"{path}: cannot decode audio ({e})") from e
    if data.shape[0] == 0:
        raise AudioError("empty", f"{path}: no samples")
    if data.shape[1] != 1:
        raise AudioError("multichannel", f"{path}: {data.shape[1]} channels, expected mono")
    if rate != sampling_rate:
        raise AudioError("wrong_rate", f"{path}: sampling rate {rate} Hz, expected {sampling_rate} Hz")
    wav = data[:, 0]
    check_waveform(wav, name=str(path), min_samples=min_samples)
    return wav


def check_waveform(wav: np.ndarray, *, name: str = "waveform", min_samples: int = MIN_SAMPLES) -> None:
    """Raise :class:`AudioError` if ``wav`` (shape (N,)) is non-finite, too short or silent."""
    if wav.size == 0:
        raise AudioError("empty", f"{name}: no samples")
    if not np.all(np.isfinite(wav)):
        raise AudioError("not_finite", f"{name}: contains NaN or infinite samples")
    if wav.size < min_samples:
        raise AudioError(
            "too_short",
            f"{name}: {wav.size} samples ({wav.size / SAMPLING_RATE:.3f} s at 16 kHz), need at least {min_samples}",
        )
    if np.max(np.abs(wav)) < SILENCE_PEAK:
        raise AudioError("silent", f"{name}: silent (peak below {SILENCE_PEAK})")


def to_mono_16k(data: np.ndarray, rate: int) -> np.ndarray:
    """Mix down to mono and resample to 16 kHz.

    Parameters
    ----------
    data : np.ndarray
        Shape (N,) or (N, channels), any float or int dtype soundfile returns.
    rate : int
        Its sampling rate in Hz.

    Returns
    -------
    np.ndarray
        float64, shape (M,), at :data:`SAMPLING_RATE`, by polyphase filtering
        (``scipy.signal.resample_poly``).
    """
    from math import gcd

    from scipy.signal import resample_poly

    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 2:
        data = data.mean(axis=1)
    if rate == SAMPLING_RATE:
        return data
    g = gcd(int(rate), SAMPLING_RATE)
    return resample_poly(data, SAMPLING_RATE // g, int(rate) // g)
