"""The report's statistical tests: between tone classes, between language groups, and each language against
the reference language, on the best layers of the results in the tidy table (those the report reads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pitchprobe.analysis.aggregate import best_layers
from pitchprobe.analysis.findings import MIN_GROUP, group_note
from pitchprobe.analysis.stats import compare_languages, group_permutation_test, utterance_stats
from pitchprobe.core.layout import RunLayout

TARGET, METRIC = "f0_voiced", "r"  # the headline: Pearson r of the voiced-F0 probe


def _reference(codes: list[str], train_langs: list[str]) -> str | None:
    for c in ("en_us", *train_langs, *sorted(codes)):
        if c in codes:
            return c
    return None


def group_test(values, groups, *, n_perm: int, seed: int) -> dict:
    """:func:`~pitchprobe.analysis.stats.group_permutation_test` over the groups of at least :data:`MIN_GROUP`
    languages; ``groups`` names every group (its ``n`` and mean), ``left_out`` those not tested. Fewer than two
    such groups: no test (``statistic`` and ``p_value`` None)."""
    values, groups = pd.Series(list(values), dtype=float), pd.Series(list(groups), dtype=str)
    n = groups.value_counts()
    keep = groups.isin(n.index[n >= MIN_GROUP]).to_numpy()
    every = group_permutation_test(values, groups, n_perm=0, seed=seed)["groups"]
    none = {"statistic": None, "p_value": None, "groups": every, "permutations": 0}
    if groups[keep].nunique() < 2:
        out = {**none, "reason": f"fewer than 2 groups of at least {MIN_GROUP} languages"}
    else:
        out = {**group_permutation_test(values[keep], groups[keep], n_perm=n_perm, seed=seed), "groups": every}
        if out["statistic"] is None or not np.isfinite(out["statistic"]):  # 0/0: no spread within the groups
            out = {**none, "reason": "no spread of values within the groups (F undefined)"}
    return {**out, "left_out": sorted(n.index[n < MIN_GROUP]), "min_group": MIN_GROUP}


def run_tests(
    run_dir: Path,
    df: pd.DataFrame,
    *,
    permutations: int,
    seed: int,
    train_langs=(),
    target: str = TARGET,
    metric: str = METRIC,
) -> dict:
    """Tone-class and group tests on best-layer values, and each language against the reference language."""
    best = best_layers(df[df.kind == "within"], target=target, metric=metric)
    out = {"target": target, "metric": metric, "tone_class": {}, "lang_group": {}, "vs_reference": {}}
    for tag, b in best.groupby("model_tag"):
        for col in ("tone_class", "lang_group"):
            out[col][tag] = group_test(b.value, b[col].astype(str), n_perm=permutations, seed=seed)
        ref = _reference(list(b.code), list(train_langs))
        if ref is None:
            continue
        stats = {}
        for code in b.code:
            pred = RunLayout(run_dir).within(tag, code).predictions
            if pred.is_file():
                stats[code] = utterance_stats(pred)
        layer = b.set_index("code").layer
        comps = {}
        for code in sorted(stats):
            if code == ref or ref not in stats:
                continue
            comps[code] = compare_languages(
                stats[code],
                stats[ref],
                layer_a=int(layer[code]),
                layer_b=int(layer[ref]),
                target=target,
                metric=metric,
                n_perm=permutations,
                seed=seed,
            )
        out["vs_reference"][tag] = {"reference": ref, "languages": comps}
    return out


def group_tests_table(tests: dict) -> pd.DataFrame:
    """The group tests, one row per model and grouping; ``note`` says why F and p are blank, or which groups
    were left out of the test (:func:`~pitchprobe.analysis.findings.group_note`)."""
    rows = []
    for kind in ("tone_class", "lang_group"):
        for tag, t in tests[kind].items():
            groups = "; ".join(f"{g}: n={v['n']}, mean={v['mean']:.3f}" for g, v in t["groups"].items())
            f, p = (np.nan if x is None else x for x in (t["statistic"], t["p_value"]))  # blank, not "None"
            row = {"model": tag, "between": kind, "F": f, "p": p, "groups": groups}
            rows.append({**row, "note": group_note(t)})
    return pd.DataFrame(rows)


def reference_table(tests: dict, metric: str) -> pd.DataFrame:
    """Each language against the reference language (permutation test over test utterances)."""
    rows = [
        {
            "model": tag,
            "language": c,
            "reference": v["reference"],
            f"difference in {metric}": d["difference"],
            "p": d["p_value"],
        }
        for tag, v in tests["vs_reference"].items()
        for c, d in v["languages"].items()
    ]
    return pd.DataFrame(rows)


__all__ = ["METRIC", "TARGET", "group_test", "reference_table", "run_tests", "group_tests_table"]
