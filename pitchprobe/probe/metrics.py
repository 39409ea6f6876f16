"""Test metrics of F0 predictions, each defined once, on per-utterance sufficient statistics.

:func:`utterance_sums` turns one utterance's predictions into a few sums per
layer; every metric is a function of such sums (:func:`metric`), so the
streaming total over a test split (:class:`Scores`), the bootstrap and the
permutation tests (:mod:`pitchprobe.analysis.stats`) all compute the same
numbers, from sums of the same statistics.

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

Undefined values (no frames; a constant prediction or label, whose
correlation does not exist) are NaN here and ``None`` in results.
"""

from __future__ import annotations

import numpy as np

TARGETS = ("f0_all", "f0_voiced", "logf0_voiced")
METRICS = {
    "f0_all": ("mse_hz2", "mse_hz2_post", "rmse_hz", "rmse_cents", "r", "r2"),
    "f0_voiced": ("rmse_hz", "rmse_cents", "r", "r2"),
    "logf0_voiced": ("rmse_hz", "rmse_cents", "r", "r2"),
}
HIGHER_IS_BETTER = {
    "r": True,
    "r2": True,
    "mse_hz2": False,
    "mse_hz2_post": False,
    "rmse_hz": False,
    "rmse_cents": False,
}
CONSTANT_RTOL = 1e-12  # a prediction whose variance is below this fraction of its second moment is constant
VOICED_SUMS = ("nv", "se_hz", "cents", "sy", "syy", "sp", "spp", "spy", "se_t")
SUM_NAMES = ("f0_all.n", "f0_all.se", "f0_all.se_post") + tuple(f"{t}.{s}" for t in TARGETS for s in VOICED_SUMS)


def _xp(x):
    """The array library of ``x``: torch for a tensor, else numpy (both spell these operations alike)."""
    import sys

    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(x, torch.Tensor) else np


def smooth_prototype(pred, *, floor_hz: float):
    """The prototype's post-processing of one utterance's predictions (T,) or (..., T), in Hz (numpy or torch)."""
    xp = _xp(pred)
    pred = pred.to(xp.float64) if xp is not np else np.asarray(pred, dtype=np.float64)
    out = pred.clone() if xp is not np else pred.copy()
    if out.shape[-1] > 1:
        out[..., 1:] = 0.5 * (pred[..., 1:] + pred[..., :-1])
    out[out < floor_hz] = 0.0
    return out


def utterance_sums(pred, f0, *, f0_min: float, f0_max: float) -> dict:
    """Sufficient statistics of one utterance (numpy arrays, or torch tensors on any device).

    Parameters
    ----------
    pred : np.ndarray or torch.Tensor
        (L, T, 3): for each of L predictors (layers), the predictions of the
        three targets (:data:`TARGETS`) on T frames; log-F0 in natural-log Hz.
    f0 : np.ndarray or torch.Tensor
        (T,) labels in Hz, 0 where unvoiced (of the same library as ``pred``).
    f0_min, f0_max : float
        The label range, Hz (clips predictions for cents).

    Returns
    -------
    dict
        ``{name: float64 (L,)}`` for every name in :data:`SUM_NAMES`, of the library of ``pred``.
    """
    xp = _xp(pred)
    if xp is np:
        pred, y = np.asarray(pred, dtype=np.float64), np.asarray(f0, dtype=np.float64)
    else:
        pred, y = pred.to(xp.float64), f0.to(device=pred.device, dtype=xp.float64)
    n_layers = pred.shape[0]

    def full(value):
        return value + xp.zeros(n_layers, dtype=xp.float64, **({} if xp is np else {"device": pred.device}))

    out = {
        "f0_all.n": full(float(y.shape[0])),
        "f0_all.se": ((pred[:, :, 0] - y) ** 2).sum(1),
        "f0_all.se_post": ((smooth_prototype(pred[:, :, 0], floor_hz=f0_min) - y) ** 2).sum(1),
    }
    v = y > 0
    yv = y[v]
    for i, t in enumerate(TARGETS):
        p = pred[:, v, i]
        p_hz, y_t = (xp.exp(p), xp.log(yv)) if t == "logf0_voiced" else (p, yv)
        cents = 1200.0 * xp.log2(xp.clip(p_hz, f0_min, f0_max) / yv)
        out[f"{t}.nv"] = full(float(yv.shape[0]))
        out[f"{t}.se_hz"] = ((p_hz - yv) ** 2).sum(1)
        out[f"{t}.cents"] = (cents**2).sum(1)
        out[f"{t}.sy"] = full(y_t.sum())
        out[f"{t}.syy"] = full(y_t @ y_t)
        out[f"{t}.sp"] = p.sum(1)
        out[f"{t}.spp"] = (p * p).sum(1)
        out[f"{t}.spy"] = p @ y_t
        out[f"{t}.se_t"] = ((p - y_t) ** 2).sum(1)
    return out


def metric(total: dict[str, np.ndarray], target: str, name: str) -> np.ndarray:
    """A metric from summed statistics (any shape, e.g. (L,) or (B, L)); NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if name in ("mse_hz2", "mse_hz2_post"):
            n = total["f0_all.n"]
            return np.where(n > 0, total["f0_all.se" if name == "mse_hz2" else "f0_all.se_post"] / n, np.nan)
        n = total[f"{target}.nv"]
        if name == "rmse_hz":
            return np.where(n > 0, np.sqrt(total[f"{target}.se_hz"] / n), np.nan)
        if name == "rmse_cents":
            return np.where(n > 0, np.sqrt(total[f"{target}.cents"] / n), np.nan)
        sy, syy, sp, spp, spy = (total[f"{target}.{k}"] for k in ("sy", "syy", "sp", "spp", "spy"))
        sst = syy - sy**2 / n
        defined = (n >= 2) & (sst > 0)
        if name == "r2":
            return np.where(defined, 1 - total[f"{target}.se_t"] / sst, np.nan)
        if name == "r":
            vp = spp - sp**2 / n
            r = (spy - sp * sy / n) / np.sqrt(vp * sst)
            return np.where(defined & (vp > CONSTANT_RTOL * np.maximum(spp, 1.0)), r, np.nan)
    raise ValueError(f"unknown metric {name!r}")


def _value(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


class Scores:
    """Streaming test metrics of L predictors: the sum of :func:`utterance_sums` over utterances."""

    def __init__(self, n_predictors: int, *, f0_min: float, f0_max: float):
        self.f0_min, self.f0_max = f0_min, f0_max
        self.total = {k: np.zeros(n_predictors) for k in SUM_NAMES}

    def add(self, pred: np.ndarray, f0: np.ndarray) -> dict[str, np.ndarray]:
        """Add one utterance (``pred`` (L, T, 3), ``f0`` (T,) Hz); return its sums."""
        sums = utterance_sums(pred, f0, f0_min=self.f0_min, f0_max=self.f0_max)
        self.add_sums(sums)
        return sums

    def add_sums(self, sums: dict[str, np.ndarray]) -> None:
        """Add one utterance's :func:`utterance_sums` (computed already)."""
        for k, v in sums.items():
            self.total[k] += v

    def metrics(self, index: int) -> dict[str, dict[str, float | int | None]]:
        """``{target: {metric: value}}`` of predictor ``index``, plus frame counts."""
        one = {k: v[index] for k, v in self.total.items()}
        out = {t: {m: _value(metric(one, t, m)) for m in METRICS[t]} for t in TARGETS}
        for t in TARGETS:
            out[t]["voiced_frames"] = int(one[f"{t}.nv"])
        out["f0_all"]["frames"] = int(one["f0_all.n"])
        return out


__all__ = [
    "HIGHER_IS_BETTER",
    "METRICS",
    "SUM_NAMES",
    "TARGETS",
    "Scores",
    "metric",
    "smooth_prototype",
    "utterance_sums",
]
