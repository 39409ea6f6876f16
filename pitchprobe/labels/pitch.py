"""Stage 2: F0 labels with pYAAPT (``amfm_decompy``): settings and tracking.

Labels are ``yaapt(...).samp_values``: one value per frame, in Hz, 0 where
unvoiced (never ``.values``, which has one value per audio sample). With
``frame_length`` = 25 ms and ``frame_space`` = 20 ms at 16 kHz, label frame
``k`` is centred at sample ``200 + 320 k``; in general where pYAAPT puts it
(its ``frames_pos``): ``fix(frame_size / 2) + k * hop``, with
``frame_size = fix(frame_length * fs / 1000)`` and ``hop = fix(frame_space * fs / 1000)``.
Settings that are not a whole number of samples are refused, since pYAAPT
would silently truncate them; :func:`track` checks every result against
``frames_pos``.

Storage of labels is :mod:`pitchprobe.labels.store`; the labelling run,
:mod:`pitchprobe.labels.make`.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np

from pitchprobe.core.audio import SAMPLING_RATE, check_waveform
from pitchprobe.core.errors import AudioError, PitchProbeError
from pitchprobe.core.timing import ms_to_samples

FRAME_LENGTH_MS = 25.0  # ms, pYAAPT analysis window
FRAME_SPACE_MS = 20.0  # ms, label hop: the HuBERT frame rate
F0_MIN_HZ = 60.0  # Hz, amfm_decompy's default
F0_MAX_HZ = 400.0  # Hz, amfm_decompy's default
FLUSH_EVERY = 32  # utterances per Parquet part file
FLUSH_SECONDS = 30.0  # s, longest wait before buffered labels are written
TIME_LIMIT_BASE_S = 60.0  # s, a file's time limit is this ...
TIME_LIMIT_PER_AUDIO_S = 1.0  # ... plus this per audio second (pYAAPT needs about 0.02-0.035 s per audio second)
MEMORY_BASE_BYTES = 200e6  # bytes, a label worker's own peak (measured: about 140 MB before pYAAPT runs) ...
MEMORY_PER_AUDIO_S = 4e6  # ... plus this per audio second (measured: 3.75 MB/s, 30-300 s files; bench_label_memory)


@dataclass(frozen=True)
class PitchParams:
    """Label settings. Times in ms, frequencies in Hz.

    ``tracker`` names the labels' source (:data:`pitchprobe.labels.trackers.TRACKERS`, or ``consensus``);
    ``sources`` the trackers a consensus combines. Every tracker labels the same frames: pYAAPT's grid
    for ``frame_length_ms`` and ``frame_space_ms``.
    """

    frame_length_ms: float = FRAME_LENGTH_MS
    frame_space_ms: float = FRAME_SPACE_MS
    f0_min_hz: float = F0_MIN_HZ
    f0_max_hz: float = F0_MAX_HZ
    tracker: str = "pyaapt"
    sources: tuple[str, ...] = ()

    def as_json(self) -> dict:
        """The settings as JSON values (``sources`` a list)."""
        return {**asdict(self), "sources": list(self.sources)}

    @classmethod
    def from_json(cls, d: dict) -> PitchParams:
        """Settings from :meth:`as_json` (files from before ``tracker`` existed are pYAAPT's)."""
        return cls(**{**d, "sources": tuple(d.get("sources", ()))})

    def yaapt_kwargs(self) -> dict:
        return {
            "frame_length": self.frame_length_ms,
            "frame_space": self.frame_space_ms,
            "f0_min": self.f0_min_hz,
            "f0_max": self.f0_max_hz,
        }

    def __post_init__(self):
        object.__setattr__(self, "sources", tuple(self.sources))
        for name, ms in (("frame length", self.frame_length_ms), ("frame space", self.frame_space_ms)):
            samples = ms_to_samples(ms)
            if not np.isfinite(samples) or samples != int(np.fix(samples)) or samples < 1:
                fixed = int(np.fix(samples)) if np.isfinite(samples) else 0
                raise PitchProbeError(
                    f"a {name} of {ms} ms is {samples:g} samples at {SAMPLING_RATE} Hz; pYAAPT truncates it to "
                    f"{fixed} samples ({fixed * 1000 / SAMPLING_RATE:g} ms), so the labels would not sit where "
                    f"asked: give a whole number of samples (a multiple of {1000 / SAMPLING_RATE:g} ms)"
                )

    @staticmethod
    def _samples(ms: float, sampling_rate: int) -> int:
        return int(np.fix(ms_to_samples(ms, sampling_rate)))  # as pYAAPT: yaapt() truncates with np.fix

    def frame_size_samples(self, sampling_rate: int = SAMPLING_RATE) -> int:
        """pYAAPT's analysis window in samples (400 for 25 ms at 16 kHz)."""
        return self._samples(self.frame_length_ms, sampling_rate)

    def hop_samples(self, sampling_rate: int = SAMPLING_RATE) -> int:
        """Label hop in samples, as pYAAPT computes it (320 for 20 ms at 16 kHz)."""
        return self._samples(self.frame_space_ms, sampling_rate)

    def first_centre_samples(self, sampling_rate: int = SAMPLING_RATE) -> int:
        """Centre of label frame 0 in samples, pYAAPT's ``fix(frame_size / 2)`` (200 for 25 ms at 16 kHz)."""
        return int(np.fix(self.frame_size_samples(sampling_rate) / 2))

    def frame_centres(self, n_frames: int, sampling_rate: int = SAMPLING_RATE) -> np.ndarray:
        """(n_frames,) sample index of each label frame's centre: pYAAPT's ``frames_pos``."""
        return self.first_centre_samples(sampling_rate) + self.hop_samples(sampling_rate) * np.arange(n_frames)


DEFAULT_PARAMS = PitchParams()


def track(wav: np.ndarray, *, params: PitchParams = PitchParams(), sampling_rate: int = SAMPLING_RATE) -> np.ndarray:
    """F0 of a waveform by pYAAPT.

    Parameters
    ----------
    wav : np.ndarray
        Shape (N,), converted to float64 (pYAAPT's labels depend on the dtype).
    params : PitchParams
    sampling_rate : int
        Hz.

    Returns
    -------
    np.ndarray
        float64, shape (frames,), Hz, 0 = unvoiced; frame ``k`` centred at
        ``params.first_centre_samples() + k * params.hop_samples()``.

    Raises
    ------
    AudioError
        ``too_short``/``silent``/``not_finite``/``empty`` before pYAAPT runs,
        ``pitch_failed`` if pYAAPT itself raises.
    MemoryError
        Not a fault of the file: left to the caller, which records it as transient.
    """
    import amfm_decompy.basic_tools as basic
    import amfm_decompy.pYAAPT as pyaapt

    wav = np.asarray(wav, dtype=np.float64)
    check_waveform(wav)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # amfm_decompy's medfilt warns on short inputs
        try:
            pitch = pyaapt.yaapt(basic.SignalObj(wav, sampling_rate), **params.yaapt_kwargs())
        except MemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure inside pYAAPT is recorded as this file's reason
            raise AudioError("pitch_failed", f"pYAAPT failed: {type(e).__name__}: {e}") from e
    f0 = np.asarray(pitch.samp_values, dtype=np.float64)
    # the labels are placed by PitchParams' geometry: check it against where pYAAPT itself put its frames
    if not np.array_equal(np.asarray(pitch.frames_pos), params.frame_centres(f0.size, sampling_rate)):
        raise PitchProbeError(
            f"pYAAPT placed its frames at {np.asarray(pitch.frames_pos)[:3]}..., not at "
            f"{params.frame_centres(3, sampling_rate)}... as PitchParams {params} predicts"
        )
    return f0


__all__ = ["DEFAULT_PARAMS", "PitchParams", "track"]
