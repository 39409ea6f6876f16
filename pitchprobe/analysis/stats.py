"""Uncertainty and tests, all seeded: a rerun gives identical numbers.

- :func:`utterance_stats` reads per-utterance sufficient statistics (a
  statistics Parquet file, or one of predictions), from which every metric of :mod:`pitchprobe.probe.metrics`
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

from pitchprobe.probe.metrics import METRICS, NOT_SUMMED, SUM_NAMES, TARGETS, utterance_sums
from pitchprobe.probe.metrics import metric as _metric

PERMUTATION_CHUNK = 2000  # permutations held in memory at once


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
    """Per-utterance sums (:func:`pitchprobe.probe.metrics.utterance_sums`) of a ``*.stats.parquet`` file
    (:class:`~pitchprobe.probe.predictions.StatsWriter`), or computed from a ``*.predictions.parquet`` file."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    df = table.to_pandas()
    ids = sorted(set(df["id"]))  # by id, not file order (which follows the batching): resamples do not depend on it
    layers = int(df["layer"].max()) + 1 if len(df) else 0
    row_of = {u: i for i, u in enumerate(ids)}
    sums = {n: np.zeros((len(ids), layers)) for n in SUM_NAMES}
    if SUM_NAMES[0] in table.column_names:  # statistics already
        rows, cols = df["id"].map(row_of).to_numpy(), df["layer"].to_numpy()
        for n in SUM_NAMES:
            sums[n][rows, cols] = df[n].to_numpy(dtype=np.float64)
        return UtteranceStats(ids, layers, sums)
    meta = json.loads(table.schema.metadata[b"pitchprobe"])
    f0_min, f0_max = meta["labels"]["f0_min_hz"], meta["labels"]["f0_max_hz"]
    thresholds = meta.get("voicing_threshold")
    cols = [f"pred_{t}" for t in TARGETS]
    for rec in df.itertuples(index=False):
        pred = np.stack([np.asarray(getattr(rec, c), dtype=np.float64) for c in cols], axis=1)[None]
        tau = None if thresholds is None else [thresholds[rec.layer]]
        one = utterance_sums(pred, np.asarray(rec.f0_hz, dtype=np.float64), f0_min=f0_min, f0_max=f0_max, threshold=tau)
        for name in SUM_NAMES:  # the ROC histograms are not per-utterance statistics
            sums[name][row_of[rec.id], rec.layer] = one[name][0]
    return UtteranceStats(ids, layers, sums)


metrics_from = _metric  # the metric of summed statistics: pitchprobe.probe.metrics.metric itself


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
        for m in (m for m in metrics if (t, m) not in NOT_SUMMED):
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
    diffs = []
    for start in range(0, n_perm + 1, PERMUTATION_CHUNK):  # every permutation, in chunks of bounded memory
        rows = min(PERMUTATION_CHUNK, n_perm + 1 - start)
        masks = np.zeros((rows, n))
        for i in range(rows):
            if start + i == 0:
                masks[i, :na] = 1  # the observed split
            else:
                masks[i, rng.permutation(n)[:na]] = 1
        tot_a = {k: masks @ v for k, v in pool.items()}
        tot_b = {k: (1 - masks) @ v for k, v in pool.items()}
        diffs.append(metrics_from(tot_a, target, metric) - metrics_from(tot_b, target, metric))
    diff = np.concatenate(diffs)
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
