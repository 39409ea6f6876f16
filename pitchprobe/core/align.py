"""Stage 4: map model frames onto the label grid by frame-centre time.

The rule
--------
Label frame ``j`` is centred at sample ``c_j = label_first + j * label_hop``;
model frame ``k`` at ``m_k = model_first + k * model_hop``, for ``k`` in
``[0, K)`` where ``K`` is the number of *real* model frames (never S3PRL's
repeated padding frames). Each label frame takes the model frame with the
nearest centre::

    k(j) = floor((c_j - model_first) / model_hop + 1/2)     (ties go to the later frame)

and is dropped when ``k(j) < 0`` or ``k(j) >= K``, i.e. when no real model
frame is centred within half a model hop of it. Dropped frames are counted.

Examples at 16 kHz with pYAAPT labels every 20 ms (``c_j = 200 + 320 j``):

- HuBERT/wav2vec 2.0/WavLM (receptive field 400, hop 320: ``m_k = 200 + 320 k``):
  ``k(j) = j``. N samples give ``(N - 400) // 320 + 1`` model frames and
  ``(N - 401) // 320 + 1`` pYAAPT frames, so when ``(N - 400) % 320 == 0`` the
  model has one frame more, which no label uses.
- fbank/mfcc (25 ms window, 10 ms hop, ``m_k = 200 + 160 k``): ``k(j) = 2 j``.
- Mockingjay/TERA (centred STFT, hop 160: ``m_k = 160 k``): ``c_j = 160 (2 j + 1.25)``,
  so ``k(j) = 2 j + 1``, 40 samples (2.5 ms) away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrameGrid:
    """Where a sequence's frames are centred, in samples: ``first + hop * k``."""

    first: float  # samples, centre of frame 0
    hop: float  # samples between frame centres

    def centres(self, count: int) -> np.ndarray:
        """Centres of frames ``0..count-1`` in samples, float64 shape (count,)."""
        return self.first + self.hop * np.arange(count, dtype=np.float64)


@dataclass(frozen=True)
class Alignment:
    """Result of :func:`align`.

    Attributes
    ----------
    label_index : np.ndarray
        int64 (M,): kept label frames.
    model_index : np.ndarray
        int64 (M,): the model frame each kept label frame takes.
    dropped : int
        Label frames with no real model frame within half a model hop.
    """

    label_index: np.ndarray
    model_index: np.ndarray
    dropped: int


def nearest_frames(centres: np.ndarray, grid: FrameGrid) -> np.ndarray:
    """Index of the nearest frame of ``grid`` for each centre (samples); may be out of range."""
    return np.floor((np.asarray(centres, dtype=np.float64) - grid.first) / grid.hop + 0.5).astype(np.int64)


def align(*, n_labels: int, label_grid: FrameGrid, n_model: int, model_grid: FrameGrid) -> Alignment:
    """Pair label frames with model frames by nearest centre (see the module docstring).

    Parameters
    ----------
    n_labels : int
        Number of label frames.
    label_grid : FrameGrid
        Their centres, in samples.
    n_model : int
        Number of real model frames.
    model_grid : FrameGrid
        Their centres, in samples.
    """
    j = np.arange(n_labels, dtype=np.int64)
    k = nearest_frames(label_grid.centres(n_labels), model_grid)
    keep = (k >= 0) & (k < n_model)
    return Alignment(label_index=j[keep], model_index=k[keep], dropped=int(n_labels - keep.sum()))
