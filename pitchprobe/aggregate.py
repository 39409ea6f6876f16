"""One tidy table of every result in a run directory.

One row per (language, model, train language, layer, predictor, target,
metric), with the language metadata (lang_id, name, FLEURS group, tone class),
the value, a bootstrap interval over test utterances, and the number of test
utterances and frames behind it. The mean floor has ``predictor = "train_mean"``
and ``layer = -1``. Within-language rows have ``train_language == code``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import atomic_path
from .languages import Language
from .stats import METRICS, TARGETS, bootstrap, utterance_stats

COLUMNS = [
    "code",
    "lang_id",
    "language",
    "lang_group",
    "tone_class",
    "model",
    "model_tag",
    "random_init",
    "train_language",
    "kind",
    "layer",
    "predictor",
    "target",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "n_utterances",
    "n_frames",
    "alpha",
    "dev_mse",
]


def load_results(run_dir: Path) -> list[tuple[str, Path, dict]]:
    """``(kind, path, result)`` of every result JSON: kind ``within`` (results/) or ``transfer`` (transfer/)."""
    out = []
    for kind, sub in (("within", "results"), ("transfer", "transfer")):
        for p in sorted((Path(run_dir) / sub).rglob("*.json")):
            out.append((kind, p, json.loads(p.read_text())))
    return out


def _metric_value(layer_res: dict, target: str, metric: str) -> tuple[float | None, int | None]:
    if metric.startswith("mse"):
        return layer_res["f0_all"].get(metric), layer_res["f0_all"].get("frames")
    v = layer_res[target]["voiced"]
    return v.get(metric), v.get("voiced_frames")


def tidy_table(
    run_dir: Path,
    *,
    table: dict[str, Language] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    results: list[tuple[str, Path, dict]] | None = None,
) -> pd.DataFrame:
    """Collect every result under ``run_dir`` into the tidy table (see the module docstring).

    ``table`` (a language table) overrules the metadata stored with each
    result, so a user's tone classes apply without recomputation.
    ``results`` is :func:`load_results`'s output, if the caller has it already.
    """
    rows = []
    for kind, path, res in load_results(run_dir) if results is None else results:
        lang = dict(res["language"])
        if table and lang["code"] in table:
            lang.update({k: v for k, v in table[lang["code"]].as_record().items() if v is not None})
        model = res["model"]
        tag = path.parent.name if kind == "within" else path.parent.parent.name
        pred = path.with_name(path.stem + ".predictions.parquet")
        cis = bootstrap(utterance_stats(pred), n_boot=n_boot, seed=seed) if pred.is_file() else {}
        base = {
            "code": lang["code"],
            "lang_id": lang.get("lang_id"),
            "language": lang.get("language"),
            "lang_group": lang.get("lang_group"),
            "tone_class": lang.get("tone_class"),
            "model": model["name"],
            "model_tag": tag,
            "random_init": model["random_init"],
            "train_language": res.get("train_language", lang["code"]),
            "kind": kind,
            "n_utterances": res["counts"]["test"]["utterances"],
        }
        predictors = [(layer["layer"], "probe", layer) for layer in res["layers"]]
        predictors.append((-1, "train_mean", res["baseline_train_mean"]))
        for layer, predictor, lres in predictors:
            for target in TARGETS:
                for metric in METRICS[target]:
                    value, frames = _metric_value(lres, target, metric)
                    lo = hi = np.nan
                    if predictor == "probe" and (target, metric) in cis:
                        lo, hi = (float(x[layer]) for x in cis[(target, metric)])
                    rows.append(
                        {
                            **base,
                            "layer": layer,
                            "predictor": predictor,
                            "target": target,
                            "metric": metric,
                            "value": np.nan if value is None else float(value),
                            "ci_low": lo,
                            "ci_high": hi,
                            "n_frames": frames,
                            "alpha": lres[target].get("alpha") if predictor == "probe" else None,
                            "dev_mse": lres[target].get("dev_mse") if predictor == "probe" else None,
                        }
                    )
    return pd.DataFrame(rows, columns=COLUMNS)


def write_tables(df: pd.DataFrame, out_dir: Path) -> tuple[Path, Path]:
    """``results.csv`` and ``results.parquet`` in ``out_dir``, atomically."""
    csv, parquet = Path(out_dir) / "results.csv", Path(out_dir) / "results.parquet"
    with atomic_path(csv) as tmp:
        df.to_csv(tmp, index=False)
    with atomic_path(parquet) as tmp:
        df.to_parquet(tmp, index=False)
    return csv, parquet


def best_layers(df: pd.DataFrame, *, target: str = "f0_voiced", metric: str = "r") -> pd.DataFrame:
    """Best probe layer per (model, train language, language), with its ``metric`` row.

    The best layer is the one whose ``target`` probe has the lowest dev MSE,
    so it is chosen without looking at the test split; where no dev error
    exists (a fixed alpha with no dev split) the test metric decides.
    """
    from .stats import HIGHER_IS_BETTER

    sel = df[(df.predictor == "probe") & (df.target == target) & (df.metric == metric)].dropna(subset=["value"])
    if sel.empty:
        return sel
    picks = []
    for _, g in sel.groupby(["model_tag", "train_language", "code"], sort=True):
        dev = pd.to_numeric(g["dev_mse"], errors="coerce")
        if dev.notna().any():
            picks.append(dev.idxmin())
        else:
            picks.append(g["value"].idxmax() if HIGHER_IS_BETTER[metric] else g["value"].idxmin())
    return sel.loc[picks].reset_index(drop=True)
