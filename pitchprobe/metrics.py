"""Streaming test metrics of F0 predictions.

Every metric is a ratio of running sums, so the test split is scored in one
pass in constant memory.

- ``mse_hz2``: mean squared error in Hz² over *all* aligned frames, unvoiced
  ones scored against 0 Hz (the prototype's number).
- ``mse_hz2_post``: the same after the prototype's smoothing of each
  utterance's predictions: a 2-tap moving average (``s[t] = (p[t] + p[t-1]) / 2``,
  ``s[0] = p[0]``), then predictions below ``f0_min`` (60 Hz) set to 0.
- On voiced frames (label > 0):
  ``rmse_hz``; ``rmse_cents`` = RMS of ``1200 log2(p / y)`` with ``p`` first
  clipped to the label range [f0_min, f0_max] (a prediction of 0 Hz or below
  has no pitch); ``r`` = Pearson correlation and ``r2`` = 1 - SSE/SST (SST
  about the test mean, as ``sklearn.metrics.r2_score``), both in the target's
  own units (Hz, or natural-log Hz for the log-F0 probe).
"""

from __future__ import annotations

import math

import numpy as np


def smooth_prototype(pred: np.ndarray, *, floor_hz: float) -> np.ndarray:
    """The prototype's post-processing of one utterance's predictions (T,) in Hz."""
    out = np.asarray(pred, dtype=np.float64).copy()
    if out.size > 1:
        out[1:] = 0.5 * (pred[1:] + pred[:-1])
    out[out < floor_hz] = 0.0
    return out


class FitSums:
    """Running sums for SSE, Pearson r and R² of predictions ``p`` against ``y``."""

    def __init__(self):
        self.n = 0
        self.se = self.sy = self.syy = self.sp = self.spp = self.spy = 0.0

    def add(self, p: np.ndarray, y: np.ndarray) -> None:
        p = np.asarray(p, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        self.n += p.size
        self.se += float(np.sum((p - y) ** 2))
        self.sy += float(y.sum())
        self.syy += float(y @ y)
        self.sp += float(p.sum())
        self.spp += float(p @ p)
        self.spy += float(p @ y)

    def mse(self) -> float | None:
        return self.se / self.n if self.n else None

    def r(self) -> float | None:
        if self.n < 2:
            return None
        cov = self.spy - self.sp * self.sy / self.n
        vp = self.spp - self.sp**2 / self.n
        vy = self.syy - self.sy**2 / self.n
        if vp <= 1e-12 * max(self.spp, 1.0) or vy <= 0:
            return None  # a constant prediction (e.g. the mean floor) has no correlation
        return cov / math.sqrt(vp * vy)

    def r2(self) -> float | None:
        if self.n < 2:
            return None
        sst = self.syy - self.sy**2 / self.n
        return 1.0 - self.se / sst if sst > 0 else None


class VoicedMetrics:
    """Metrics of one probe on voiced frames: RMSE in Hz and cents, r and R² in target units."""

    def __init__(self, *, f0_min: float, f0_max: float):
        self.f0_min, self.f0_max = f0_min, f0_max
        self.target = FitSums()  # r, r2 in the probe's own units
        self.hz = FitSums()  # RMSE in Hz
        self.cents_se = 0.0

    def add(self, *, pred: np.ndarray, y: np.ndarray, pred_hz: np.ndarray, y_hz: np.ndarray) -> None:
        """All arrays (T,) over voiced frames; ``pred``/``y`` in target units, ``*_hz`` in Hz."""
        self.target.add(pred, y)
        self.hz.add(pred_hz, y_hz)
        cents = 1200.0 * np.log2(np.clip(pred_hz, self.f0_min, self.f0_max) / y_hz)
        self.cents_se += float(cents @ cents)

    def result(self) -> dict:
        n = self.hz.n
        return {
            "voiced_frames": n,
            "rmse_hz": math.sqrt(self.hz.se / n) if n else None,
            "rmse_cents": math.sqrt(self.cents_se / n) if n else None,
            "r": self.target.r(),
            "r2": self.target.r2(),
        }


__all__ = ["FitSums", "VoicedMetrics", "smooth_prototype"]
