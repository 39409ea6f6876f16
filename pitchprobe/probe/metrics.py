"""Test metrics of the probes, each defined once, on per-utterance sufficient statistics.

:func:`utterance_sums` turns one utterance's predictions into a few sums per
predictor (layer); every metric is a function of such sums (:func:`metric`), so the
streaming total over a test split (:class:`Scores`), the bootstrap and the
permutation tests (:mod:`pitchprobe.analysis.stats`) all compute the same
numbers, from sums of the same statistics.

Targets (:data:`TARGETS`; column ``i`` of a prediction array is target ``i``):

- ``f0_all``: F0 in Hz on every frame, unvoiced frames scored against 0 Hz (the prototype's);
- ``f0_voiced``: F0 in Hz on voiced frames;
- ``logf0_voiced``: natural-log F0 on voiced frames;
- ``st_utt``: semitones relative to the utterance's median voiced F0, on voiced frames:
  pitch *movement* inside an utterance, with the speaker's register removed;
- ``voicing``: 1 on voiced frames, 0 on unvoiced ones (least squares on a 0/1 target),
  thresholded at a value chosen on dev;
- ``register``: the utterance's median voiced F0 in semitones re 100 Hz, one value per
  utterance, predicted from the layer's mean-pooled state. By linearity that is the mean over
  the utterance's frames of column ``register``'s frame predictions, so one product serves all.

Metrics (:data:`METRICS`):

- ``mse_hz2``: mean squared error in Hz² over *all* aligned frames (``f0_all``);
  ``mse_hz2_post`` the same after the prototype's smoothing of each utterance's
  predictions (a 2-tap moving average, then predictions below ``f0_min`` set to 0).
- On voiced frames: ``rmse_hz``; ``rmse_cents`` = RMS of ``1200 log2(p / y)`` with ``p``
  first clipped to the label range [f0_min, f0_max]; ``r`` = Pearson correlation and
  ``r2`` = 1 - SSE/SST (SST about the test mean, as ``sklearn.metrics.r2_score``), both in
  the target's own units (Hz, natural-log Hz, semitones); ``mse_log``: mean squared error
  of natural-log F0 (SUPERB-prosody's metric); ``rmse_st``: RMS error in semitones.
- ``r_within``: within-utterance r, each test utterance's own Pearson r between prediction
  and label over its voiced frames, averaged with weights = its voiced frames (utterances
  with fewer than :data:`MIN_WITHIN_FRAMES` voiced frames, or a constant prediction or
  label, have no r and no weight). Pooled ``r`` also rewards telling a low voice from a
  high one; ``r_within`` only following the contour.
- ``voicing``: ``balanced_accuracy`` (mean of the voiced and unvoiced recalls at the dev
  threshold) and ``auc`` (ROC AUC, from histograms of the scores in :data:`AUC_BINS` bins
  over [:data:`AUC_RANGE`]; ties within a bin count half: the error is about 1e-3 for
  least-squares scores, which lie in about [-0.5, 1.5]; scores outside the range tie in its end
  bins). The AUC is not a sum over utterances, so it has no bootstrap interval.
- ``register``: ``rmse_st``, ``r``, ``r2`` over test utterances.

Undefined values (no frames; a constant prediction or label, whose
correlation does not exist) are NaN here and ``None`` in results.
"""

from __future__ import annotations

import numpy as np

from pitchprobe.labels.agreement import MIN_WITHIN_FRAMES, REGISTER_REF_HZ

TARGETS = ("f0_all", "f0_voiced", "logf0_voiced", "st_utt", "voicing", "register")
F0_TARGETS = ("f0_voiced", "logf0_voiced", "st_utt")  # fitted and scored on voiced frames
ALL_FRAME_TARGETS = ("f0_all", "voicing")  # fitted and scored on every frame
UTTERANCE_TARGETS = ("register",)  # one value per utterance
METRICS = {
    "f0_all": ("mse_hz2", "mse_hz2_post", "rmse_hz", "rmse_cents", "r", "r2"),
    "f0_voiced": ("rmse_hz", "rmse_cents", "r", "r2", "r_within"),
    "logf0_voiced": ("rmse_hz", "rmse_cents", "r", "r2", "r_within", "mse_log"),
    "st_utt": ("rmse_st", "r", "r2", "r_within"),
    "voicing": ("balanced_accuracy", "auc"),
    "register": ("rmse_st", "r", "r2"),
}
UNITS = {"f0_all": "Hz", "f0_voiced": "Hz", "logf0_voiced": "ln Hz", "st_utt": "st", "voicing": "0/1", "register": "st"}
HIGHER_IS_BETTER = {
    "r": True,
    "r2": True,
    "r_within": True,
    "balanced_accuracy": True,
    "auc": True,
    "mse_hz2": False,
    "mse_hz2_post": False,
    "rmse_hz": False,
    "rmse_cents": False,
    "rmse_st": False,
    "mse_log": False,
}
NOT_SUMMED = {("voicing", "auc")}  # metrics of histograms, not of per-utterance sums: no bootstrap
CONSTANT_RTOL = 1e-12  # a prediction whose variance is below this fraction of its second moment is constant
AUC_RANGE = (-1.0, 2.0)  # voicing scores are clipped into this range for the ROC histogram
AUC_BINS = 600  # bins of the ROC histogram: 0.005 wide
VOICED_SUMS = ("nv", "se_hz", "cents", "sy", "syy", "sp", "spp", "spy", "se_t", "wr", "w")
VOICING_SUMS = ("n", "pos", "tp", "tn")
REGISTER_SUMS = ("nv", "sy", "syy", "sp", "spp", "spy", "se_t")
SUM_NAMES = (
    ("f0_all.n", "f0_all.se", "f0_all.se_post")
    + tuple(f"{t}.{s}" for t in ("f0_all", *F0_TARGETS) for s in VOICED_SUMS)
    + tuple(f"voicing.{s}" for s in VOICING_SUMS)
    + tuple(f"register.{s}" for s in REGISTER_SUMS)
)
HISTOGRAMS = ("voicing.hist_pos", "voicing.hist_neg")  # (P, AUC_BINS) each: added like sums, not per utterance


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


def frame_targets(f0: np.ndarray) -> np.ndarray:
    """(T, 6) float64 targets of one utterance's labels ``f0`` (T,) Hz, 0 = unvoiced, in :data:`TARGETS` order.

    Unvoiced frames hold 0 in the voiced-only columns (they are never used there); ``st_utt`` and
    ``register`` are 0 throughout an utterance without a voiced frame.
    """
    f0 = np.asarray(f0, dtype=np.float64)
    voiced = f0 > 0
    out = np.zeros((f0.size, len(TARGETS)))
    out[:, 0] = f0
    out[:, 4] = voiced
    if voiced.any():
        fv = f0[voiced]
        median = float(np.median(fv))
        out[voiced, 1] = fv
        out[voiced, 2] = np.log(fv)
        out[voiced, 3] = 12.0 * np.log2(fv / median)
        out[:, 5] = 12.0 * np.log2(median / REGISTER_REF_HZ)
    return out


def _median(values, xp) -> float:
    """numpy's median (the mean of the two middle values for an even count), of a numpy array or a tensor."""
    if xp is np:
        return float(np.median(values))
    s, n = xp.sort(values).values, values.shape[0]
    return float(0.5 * (s[(n - 1) // 2] + s[n // 2]))


def _within(p, y, xp):
    """Per-predictor r of one utterance: ``(w r, w)`` with ``w`` its frames where r exists, else 0."""
    n = y.shape[0]
    zeros = p.sum(1) * 0.0
    if n < MIN_WITHIN_FRAMES:
        return zeros, zeros
    pc = p - p.mean(1, keepdims=True) if xp is np else p - p.mean(1, keepdim=True)
    yc = y - y.mean()
    vp, vy = (pc * pc).sum(1), float((yc * yc).sum())
    ok = (vp > CONSTANT_RTOL * xp.clip((p * p).sum(1), 1.0, None)) & (
        vy > CONSTANT_RTOL * max(float((y * y).sum()), 1.0)
    )
    r = (pc @ yc) / xp.sqrt(xp.where(ok, vp * vy, 1.0))
    w = xp.where(ok, n + zeros, zeros)
    return xp.where(ok, r, zeros) * w, w


def _histogram(scores, xp):
    """(P, AUC_BINS) counts of each predictor's ``scores`` (P, M); non-finite scores are not counted."""
    lo, hi = AUC_RANGE
    n_pred = scores.shape[0]
    finite = xp.isfinite(scores)
    safe = xp.where(finite, scores, lo)
    idx = xp.clip(xp.floor((safe - lo) / (hi - lo) * AUC_BINS), 0, AUC_BINS - 1)
    if xp is np:
        flat = (idx.astype(np.int64) + AUC_BINS * np.arange(n_pred)[:, None]).ravel()
        counts = np.bincount(flat, weights=finite.ravel().astype(np.float64), minlength=n_pred * AUC_BINS)
        return counts.reshape(n_pred, AUC_BINS)
    flat = (idx.long() + AUC_BINS * xp.arange(n_pred, device=scores.device)[:, None]).reshape(-1)
    out = xp.zeros(n_pred * AUC_BINS, dtype=xp.float64, device=scores.device)
    return out.index_add_(0, flat, finite.reshape(-1).to(xp.float64)).reshape(n_pred, AUC_BINS)


def utterance_sums(pred, f0, *, f0_min: float, f0_max: float, threshold=None) -> dict:
    """Sufficient statistics of one utterance (numpy arrays, or torch tensors on any device).

    Parameters
    ----------
    pred : np.ndarray or torch.Tensor
        (P, T, 6): for each of P predictors (layers), the frame predictions of every target
        (:data:`TARGETS` order; log-F0 in natural-log Hz, ``st_utt`` and ``register`` in semitones).
    f0 : np.ndarray or torch.Tensor
        (T,) labels in Hz, 0 where unvoiced (of the same library as ``pred``).
    f0_min, f0_max : float
        The label range, Hz (clips predictions for cents).
    threshold : array-like or None
        (P,) voicing thresholds (chosen on dev); None: 0.5.

    Returns
    -------
    dict
        ``{name: float64 (P,)}`` for every name in :data:`SUM_NAMES`, and ``{name: (P, AUC_BINS)}``
        for :data:`HISTOGRAMS`, of the library of ``pred``.
    """
    xp = _xp(pred)
    if xp is np:
        pred, y = np.asarray(pred, dtype=np.float64), np.asarray(f0, dtype=np.float64)
        on = {}
    else:
        pred, y = pred.to(xp.float64), f0.to(device=pred.device, dtype=xp.float64)
        on = {"device": pred.device}
    n_pred = pred.shape[0]

    def full(value):
        return value + xp.zeros(n_pred, dtype=xp.float64, **on)

    out = {
        "f0_all.n": full(float(y.shape[0])),
        "f0_all.se": ((pred[:, :, 0] - y) ** 2).sum(1),
        "f0_all.se_post": ((smooth_prototype(pred[:, :, 0], floor_hz=f0_min) - y) ** 2).sum(1),
    }
    v = y > 0
    yv = y[v]
    nv = int(yv.shape[0])
    median = _median(yv, xp) if nv else 1.0
    for t in ("f0_all", *F0_TARGETS):
        col = TARGETS.index(t)
        p = pred[:, v, col]
        if t == "logf0_voiced":
            p_hz, y_t = xp.exp(p), xp.log(yv)
        elif t == "st_utt":
            p_hz, y_t = median * 2.0 ** (p / 12.0), 12.0 * xp.log2(yv / median)
        else:
            p_hz, y_t = p, yv
        cents = 1200.0 * xp.log2(xp.clip(p_hz, f0_min, f0_max) / yv)
        out[f"{t}.nv"] = full(float(nv))
        out[f"{t}.se_hz"] = ((p_hz - yv) ** 2).sum(1)
        out[f"{t}.cents"] = (cents**2).sum(1)
        out[f"{t}.sy"] = full(y_t.sum())
        out[f"{t}.syy"] = full(y_t @ y_t)
        out[f"{t}.sp"] = p.sum(1)
        out[f"{t}.spp"] = (p * p).sum(1)
        out[f"{t}.spy"] = p @ y_t
        out[f"{t}.se_t"] = ((p - y_t) ** 2).sum(1)
        out[f"{t}.wr"], out[f"{t}.w"] = _within(p, y_t, xp)
    scores = pred[:, :, TARGETS.index("voicing")]
    tau = full(0.5) if threshold is None else full(0.0) + (xp.as_tensor(threshold, **on) if on else threshold)
    above = scores >= tau[:, None]
    out["voicing.n"] = full(float(y.shape[0]))
    out["voicing.pos"] = full(float(nv))
    out["voicing.tp"] = (above & v).sum(1) + full(0.0)  # float64, in either library
    out["voicing.tn"] = (~above & ~v).sum(1) + full(0.0)
    out["voicing.hist_pos"] = _histogram(scores[:, v], xp)
    out["voicing.hist_neg"] = _histogram(scores[:, ~v], xp)
    reg = pred[:, :, TARGETS.index("register")].mean(1) if y.shape[0] else full(0.0)
    y_reg = 12.0 * np.log2(median / REGISTER_REF_HZ) if nv else 0.0
    has = 1.0 if nv else 0.0
    out["register.nv"] = full(has)
    out["register.sy"] = full(has * y_reg)
    out["register.syy"] = full(has * y_reg * y_reg)
    out["register.sp"] = has * reg
    out["register.spp"] = has * reg * reg
    out["register.spy"] = has * reg * y_reg
    out["register.se_t"] = has * (reg - y_reg) ** 2
    return out


def _auc(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """ROC AUC from score histograms (..., B) of the positives and the negatives; ties in a bin count half."""
    n_pos, n_neg = pos.sum(-1), neg.sum(-1)
    below = np.cumsum(neg, -1) - neg  # negatives in lower bins
    wins = (pos * (below + 0.5 * neg)).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), wins / (n_pos * n_neg), np.nan)


def _correlation(total, target, name):
    n = total[f"{target}.nv"]
    sy, syy, sp, spp, spy = (total[f"{target}.{k}"] for k in ("sy", "syy", "sp", "spp", "spy"))
    sst = syy - sy**2 / n
    defined = (n >= 2) & (sst > 0)
    if name == "r2":
        return np.where(defined, 1 - total[f"{target}.se_t"] / sst, np.nan)
    vp = spp - sp**2 / n
    r = (spy - sp * sy / n) / np.sqrt(vp * sst)
    return np.where(defined & (vp > CONSTANT_RTOL * np.maximum(spp, 1.0)), r, np.nan)


def metric(total: dict[str, np.ndarray], target: str, name: str) -> np.ndarray:
    """A metric from summed statistics (any shape, e.g. (L,) or (B, L)); NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if name in ("mse_hz2", "mse_hz2_post"):
            n = total["f0_all.n"]
            return np.where(n > 0, total["f0_all.se" if name == "mse_hz2" else "f0_all.se_post"] / n, np.nan)
        if target == "voicing":
            if name == "auc":
                return _auc(total["voicing.hist_pos"], total["voicing.hist_neg"])
            if name == "balanced_accuracy":
                pos, neg = total["voicing.pos"], total["voicing.n"] - total["voicing.pos"]
                ba = 0.5 * (total["voicing.tp"] / pos + total["voicing.tn"] / neg)
                return np.where((pos > 0) & (neg > 0), ba, np.nan)
            raise ValueError(f"unknown metric {name!r} of voicing")
        n = total[f"{target}.nv"]
        if name == "rmse_hz":
            return np.where(n > 0, np.sqrt(total[f"{target}.se_hz"] / n), np.nan)
        if name == "rmse_cents":
            return np.where(n > 0, np.sqrt(total[f"{target}.cents"] / n), np.nan)
        if name == "rmse_st":
            return np.where(n > 0, np.sqrt(total[f"{target}.se_t"] / n), np.nan)
        if name == "mse_log":
            return np.where(n > 0, total[f"{target}.se_t"] / n, np.nan)
        if name == "r_within":
            w = total[f"{target}.w"]
            return np.where(w > 0, total[f"{target}.wr"] / w, np.nan)
        if name in ("r", "r2"):
            return _correlation(total, target, name)
    raise ValueError(f"unknown metric {name!r}")


def _value(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


class Scores:
    """Streaming test metrics of P predictors: the sum of :func:`utterance_sums` over utterances."""

    def __init__(self, n_predictors: int, *, f0_min: float, f0_max: float, threshold=None):
        self.f0_min, self.f0_max, self.threshold = f0_min, f0_max, threshold
        self.total = {k: np.zeros(n_predictors) for k in SUM_NAMES}
        self.total.update({k: np.zeros((n_predictors, AUC_BINS)) for k in HISTOGRAMS})

    def add(self, pred: np.ndarray, f0: np.ndarray) -> dict[str, np.ndarray]:
        """Add one utterance (``pred`` (P, T, 6), ``f0`` (T,) Hz); return its sums."""
        sums = utterance_sums(pred, f0, f0_min=self.f0_min, f0_max=self.f0_max, threshold=self.threshold)
        self.add_sums(sums)
        return sums

    def add_sums(self, sums: dict[str, np.ndarray]) -> None:
        """Add one utterance's :func:`utterance_sums` (computed already)."""
        for k, v in sums.items():
            self.total[k] += v

    def metrics(self, index: int) -> dict[str, dict[str, float | int | None]]:
        """``{target: {metric: value}}`` of predictor ``index``, plus frame (or utterance) counts."""
        one = {k: v[index] for k, v in self.total.items()}
        out = {t: {m: _value(metric(one, t, m)) for m in METRICS[t]} for t in TARGETS}
        for t in ("f0_all", *F0_TARGETS, "register"):
            out[t]["voiced_frames"] = int(one[f"{t}.nv"])
        out["voicing"]["voiced_frames"] = int(one["voicing.pos"])
        out["voicing"]["frames"] = int(one["voicing.n"])
        out["f0_all"]["frames"] = int(one["f0_all.n"])
        return out


__all__ = [
    "HIGHER_IS_BETTER",
    "HISTOGRAMS",
    "METRICS",
    "NOT_SUMMED",
    "SUM_NAMES",
    "TARGETS",
    "UNITS",
    "Scores",
    "frame_targets",
    "metric",
    "smooth_prototype",
    "utterance_sums",
]
