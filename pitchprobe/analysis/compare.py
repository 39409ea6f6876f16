"""The report's statistical tests: between tone classes, between language groups, and each language against
the reference language, on the best layers of the results in the tidy table (those the report reads)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pitchprobe.analysis.aggregate import best_layers
from pitchprobe.analysis.stats import compare_languages, group_permutation_test, utterance_stats
from pitchprobe.core.layout import RunLayout

TARGET, METRIC = "f0_voiced", "r"  # the headline: Pearson r of the voiced-F0 probe


def _reference(codes: list[str], train_langs: list[str]) -> str | None:
    for c in ("en_us", *train_langs, *sorted(codes)):
        if c in codes:
            return c
    return None


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
            out[col][tag] = group_permutation_test(b.value, b[col].astype(str), n_perm=permutations, seed=seed)
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


__all__ = ["METRIC", "TARGET", "run_tests"]
