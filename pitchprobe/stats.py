"""Uncertainty and tests, all seeded: a rerun gives identical numbers.

- :func:`utterance_stats` turns a predictions Parquet file into per-utterance
  sufficient statistics, from which every metric of :mod:`pitchprobe.metrics`
  follows by summing (:func:`metrics_from`).
- :func:`bootstrap` resamples test utterances with replacement (the same
  resamples for every layer, target and metric) for percentile intervals.
- :func:`compare_languages` is a permutation test of a metric between two
  languages' test utterances.
- :func:`group_permutation_test` tests differences between groups of
  languages (tone classes, FLEURS groups) by permuting the group labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .metrics import smooth_prototype

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


@dataclass
class UtteranceStats:
    """Per-utterance sums: ``sums[name]`` is float64 (U, L) for U test utterances and L layers."""

    ids: list[str]
    layers: int
    sums: dict[str, np.ndarray]

    def total(self, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Sums over utterances: (L,) each, or (B, L) with ``weights`` (B, U) of resample counts."""
        if weights is None:
            return {k: v.sum(0) for k, v in self.sums.items()}
        return {k: weights @ v for k, v in self.sums.items()}


def utterance_stats(path: str | Path) -> UtteranceStats:
    """Read a ``*.predictions.parquet`` file into per-utterance sums (see the module docstring)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"pitchprobe"])
    f0_min, f0_max = meta["labels"]["f0_min_hz"], meta["labels"]["f0_max_hz"]
    df = table.to_pandas()
    ids = list(dict.fromkeys(df["id"]))
    layers = int(df["layer"].max()) + 1 if len(df) else 0
    row_of = {u: i for i, u in enumerate(ids)}
    names = ["f0_all.n", "f0_all.se", "f0_all.se_post"] + [
        f"{t}.{s}" for t in TARGETS for s in ("nv", "se_hz", "cents", "sy", "syy", "sp", "spp", "spy", "se_t")
    ]
    sums = {n: np.zeros((len(ids), layers)) for n in names}
    for rec in df.itertuples(index=False):
        u, layer = row_of[rec.id], rec.layer
        y = np.asarray(rec.f0_hz, dtype=np.float64)
        p_all = np.asarray(rec.pred_f0_all, dtype=np.float64)
        sums["f0_all.n"][u, layer] = y.size
        sums["f0_all.se"][u, layer] = np.sum((p_all - y) ** 2)
        sums["f0_all.se_post"][u, layer] = np.sum((smooth_prototype(p_all, floor_hz=f0_min) - y) ** 2)
        v = y > 0
        yv = y[v]
        for t in TARGETS:
            p = np.asarray(getattr(rec, f"pred_{t}"), dtype=np.float64)[v]
            p_hz, y_t = (np.exp(p), np.log(yv)) if t == "logf0_voiced" else (p, yv)
            cents = 1200 * np.log2(np.clip(p_hz, f0_min, f0_max) / yv)
            for name, val in (
                ("nv", yv.size),
                ("se_hz", np.sum((p_hz - yv) ** 2)),
                ("cents", cents @ cents),
                ("sy", y_t.sum()),
                ("syy", y_t @ y_t),
                ("sp", p.sum()),
                ("spp", p @ p),
                ("spy", p @ y_t),
                ("se_t", np.sum((p - y_t) ** 2)),
            ):
                sums[f"{t}.{name}"][u, layer] = val
    return UtteranceStats(ids, layers, sums)


def metrics_from(total: dict[str, np.ndarray], target: str, metric: str) -> np.ndarray:
    """A metric from summed statistics (any shape); NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "mse_hz2":
            return total["f0_all.se"] / total["f0_all.n"]
        if metric == "mse_hz2_post":
            return total["f0_all.se_post"] / total["f0_all.n"]
        n = total[f"{target}.nv"]
        if metric == "rmse_hz":
            return np.sqrt(total[f"{target}.se_hz"] / n)
        if metric == "rmse_cents":
            return np.sqrt(total[f"{target}.cents"] / n)
        sy, syy, sp, spp, spy = (total[f"{target}.{k}"] for k in ("sy", "syy", "sp", "spp", "spy"))
        sst = syy - sy**2 / n
        if metric == "r2":
            return 1 - total[f"{target}.se_t"] / sst
        if metric == "r":
            vp = spp - sp**2 / n
            r = (spy - sp * sy / n) / np.sqrt(vp * sst)
            return np.where(vp > 1e-12 * np.maximum(spp, 1.0), r, np.nan)
    raise ValueError(f"unknown metric {metric!r}")


def bootstrap(stats: UtteranceStats, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Percentile intervals over resampled test utterances: ``{(target, metric): (low (L,), high (L,))}``."""
    rng = np.random.default_rng(seed)
    u = len(stats.ids)
    if u == 0 or n_boot == 0:
        return {}
    weights = rng.multinomial(u, np.full(u, 1.0 / u), size=n_boot).astype(np.float64)
    total = stats.total(weights)
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    out = {}
    for t, metrics in METRICS.items():
        for m in metrics:
            vals = metrics_from(total, t, m)
            lo, hi = np.nanpercentile(vals, q, axis=0) if np.isfinite(vals).any() else (vals[0] * np.nan,) * 2
            out[(t, m)] = (lo, hi)
    return out


def compare_languages(
    a: UtteranceStats,
    b: UtteranceStats,
    *,
    layer_a: int,
    layer_b: int,
    target: str,
    metric: str,
    n_perm: int = 10000,
    seed: int = 0,
) -> dict:
    """Two-sided permutation test of ``metric(a) - metric(b)`` over test utterances.

    Each utterance keeps its own predictions (from its own layer); the test
    shuffles which language each utterance belongs to.
    """
    keys = list(a.sums)
    pool = {k: np.concatenate([a.sums[k][:, layer_a], b.sums[k][:, layer_b]]) for k in keys}
    na, n = len(a.ids), len(a.ids) + len(b.ids)
    rng = np.random.default_rng(seed)
    masks = np.zeros((n_perm + 1, n))
    masks[0, :na] = 1
    for i in range(1, n_perm + 1):
        masks[i, rng.permutation(n)[:na]] = 1
    tot_a = {k: masks @ v for k, v in pool.items()}
    tot_b = {k: (1 - masks) @ v for k, v in pool.items()}
    diff = metrics_from(tot_a, target, metric) - metrics_from(tot_b, target, metric)
    obs = diff[0]
    p = (1 + np.sum(np.abs(diff[1:]) >= abs(obs) - 1e-12)) / (1 + n_perm)
    return {"difference": float(obs), "p_value": float(p), "n_a": na, "n_b": n - na, "permutations": n_perm}


def group_permutation_test(values, groups, *, n_perm: int = 10000, seed: int = 0) -> dict:
    """One-way permutation test of differences between groups (F statistic; groups permuted).

    Parameters
    ----------
    values : array (N,)
        One number per language (e.g. its best-layer r).
    groups : array (N,)
        Group label of each language.

    Returns
    -------
    dict
        ``statistic`` (F), ``p_value`` ((1 + #perm >= observed) / (1 + n_perm)),
        ``groups`` {label: {"n", "mean"}}.
    """
    values = np.asarray(values, dtype=np.float64)
    groups = np.asarray(groups)
    labels = sorted(set(groups.tolist()))
    out_groups = {g: {"n": int((groups == g).sum()), "mean": float(values[groups == g].mean())} for g in labels}
    if len(labels) < 2 or len(values) <= len(labels):
        return {"statistic": None, "p_value": None, "groups": out_groups, "permutations": 0}
    codes = np.searchsorted(labels, groups)

    def f_stat(c: np.ndarray) -> np.ndarray:
        # c: (P, N) group index per value
        onehot = np.eye(len(labels))[c]  # (P, N, G)
        n_g = onehot.sum(1)
        mean_g = (onehot * values[None, :, None]).sum(1) / n_g
        grand = values.mean()
        between = (n_g * (mean_g - grand) ** 2).sum(1) / (len(labels) - 1)
        within = ((values[None, :] - np.take_along_axis(mean_g, c, 1)) ** 2).sum(1) / (len(values) - len(labels))
        with np.errstate(divide="ignore", invalid="ignore"):
            return between / within

    rng = np.random.default_rng(seed)
    perms = np.stack([codes] + [rng.permutation(codes) for _ in range(n_perm)])
    stats = np.concatenate([f_stat(perms[i : i + 2000]) for i in range(0, len(perms), 2000)])
    obs = stats[0]
    p = (1 + np.sum(stats[1:] >= obs - 1e-12)) / (1 + n_perm)
    return {"statistic": float(obs), "p_value": float(p), "groups": out_groups, "permutations": n_perm}
