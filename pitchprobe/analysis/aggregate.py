"""One tidy table of the results a report of a run directory reads (in a study: its current ones).

One row per (language, model, train language, layer, predictor, target,
metric), with the language metadata (lang_id, name, FLEURS group, tone class),
the value, a bootstrap interval over test utterances, and the number of test
utterances and frames behind it. The mean floor has ``predictor = "train_mean"``
and ``layer = -1``. Within-language rows have ``train_language == code``; transfer rows
the train language, or ``pooled`` (a probe fitted on every study language) or ``others`` (fitted on
every study language but the test language).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pitchprobe.analysis.reported import reported_results
from pitchprobe.analysis.stats import bootstrap, utterance_stats
from pitchprobe.core.atomic import atomic_path
from pitchprobe.core.layout import ResultFiles
from pitchprobe.data.languages import Language
from pitchprobe.probe.metrics import HIGHER_IS_BETTER, METRICS, TARGETS
from pitchprobe.probe.results import LayerMetrics, ProbeResult

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


def _metric_value(lm: LayerMetrics, target: str, metric: str) -> tuple[float | None, int | None]:
    if metric in ("mse_hz2", "mse_hz2_post"):
        return getattr(lm.f0_all, metric), lm.f0_all.frames
    scores = lm.target(target)
    frames = scores.frames if target == "voicing" and scores.frames is not None else scores.voiced.voiced_frames
    return getattr(scores.voiced, metric), frames  # voicing: every frame (where the result has the count)


def tidy_table(
    run_dir: Path,
    *,
    table: dict[str, Language] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    results: list[tuple[str, ProbeResult]] | None = None,
) -> pd.DataFrame:
    """Collect the results a report of ``run_dir`` reads into the tidy table (see the module docstring): in a
    study's run directory, only those current for its configuration
    (:func:`pitchprobe.analysis.reported.reported_results`).

    ``table`` (a language table) overrules the metadata stored with each
    result, so a user's tone classes apply without recomputation.
    ``results``: the ``(kind, result)`` pairs to collect, if the caller has them already.
    """
    rows = []
    for kind, res in reported_results(run_dir).results if results is None else results:
        lang = dict(res.language)
        if table and lang["code"] in table:
            lang.update({k: v for k, v in table[lang["code"]].as_record().items() if v is not None})
        source = ResultFiles(Path(res.output)).statistics() if res.output else None
        cis = bootstrap(utterance_stats(source), n_boot=n_boot, seed=seed) if source is not None else {}
        base = {
            "code": lang["code"],
            "lang_id": lang.get("lang_id"),
            "language": lang.get("language"),
            "lang_group": lang.get("lang_group"),
            "tone_class": lang.get("tone_class"),
            "model": res.model["name"],
            "model_tag": res.tag,
            "random_init": res.model["random_init"],
            "train_language": res.train_language,
            "kind": kind,
            "n_utterances": res.counts["test"].utterances,
        }
        predictors = [(lm.layer, "probe", lm) for lm in res.layers] + [(-1, "train_mean", res.baseline_train_mean)]
        for layer, predictor, lm in predictors:
            for target in TARGETS:
                scores = lm.target(target)
                for metric in METRICS[target]:
                    value, frames = _metric_value(lm, target, metric)
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
                            "alpha": scores.alpha if predictor == "probe" else None,
                            "dev_mse": scores.dev_mse if predictor == "probe" else None,
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
    so it is chosen without looking at the test split. Only where no dev split
    exists (own recordings split without one) does the test metric decide;
    the column ``chosen_on`` says which (``dev`` or ``test``).
    """

    sel = df[(df.predictor == "probe") & (df.target == target) & (df.metric == metric)].dropna(subset=["value"])
    if sel.empty:
        return sel.assign(chosen_on=pd.Series(dtype=str))
    picks, on = [], []
    for _, g in sel.groupby(["model_tag", "train_language", "code"], sort=True):
        dev = pd.to_numeric(g["dev_mse"], errors="coerce")
        if dev.notna().any():
            picks.append(dev.idxmin())
            on.append("dev")
        else:
            picks.append(g["value"].idxmax() if HIGHER_IS_BETTER[metric] else g["value"].idxmin())
            on.append("test")
    out = sel.loc[picks].reset_index(drop=True)
    out["chosen_on"] = on
    return out


HEADLINE = (  # (column, target, metric): the report's headline pair, then pooled r of the voiced-F0 probe
    ("movement", "st_utt", "r_within"),
    ("register", "register", "r"),
    ("pooled_r", "f0_voiced", "r"),
)


def headline_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per (model, language), within-language: movement (within-utterance r of ``st_utt``), register (r of
    ``register``) and pooled r of ``f0_voiced``, each at its own probe's best layer (lowest dev MSE), with the
    number of test utterances the register r is a correlation over (``test_utterances``)."""
    out = _best_columns(df, HEADLINE, count=("test_utterances", "register"))
    if "test_utterances" in out:
        out["test_utterances"] = out["test_utterances"].astype("Int64")
    return out


DETAIL = (  # (column, target, metric): what the headline leaves out, each at its own probe's best layer
    ("voicing_balanced_accuracy", "voicing", "balanced_accuracy"),
    ("voicing_auc", "voicing", "auc"),
    ("rmse_cents", "f0_voiced", "rmse_cents"),
)


def detail_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per (model, language), within-language: the voicing probe's balanced accuracy and ROC AUC, and the
    voiced-F0 probe's RMSE in cents beside the train-mean floor's (``rmse_cents_floor``): how large the
    errors are, where the headline says how well the contour is followed."""
    out = _best_columns(df, DETAIL)
    if out.empty:
        return out.assign(rmse_cents_floor=pd.Series(dtype=float))
    floor = df[(df.kind == "within") & (df.predictor == "train_mean") & (df.target == "f0_voiced")]
    floor = floor[floor.metric == "rmse_cents"][["model_tag", "code", "value"]]
    return out.merge(floor.rename(columns={"value": "rmse_cents_floor"}), on=["model_tag", "code"], how="left")


def _best_columns(df: pd.DataFrame, spec, *, count: tuple[str, str] | None = None) -> pd.DataFrame:
    """One row per (model, language) of the within-language results: for each ``(column, target, metric)`` of
    ``spec``, the metric at that target's best layer, its interval and the layer. ``count`` ``(name, column)``:
    that column's ``n_frames`` too, as ``name`` (for ``register`` it counts utterances)."""
    within = df[df.kind == "within"]
    keys = ["model_tag", "code", "language", "tone_class"]
    out = None
    for column, target, metric in spec:
        best = best_layers(within, target=target, metric=metric)
        extra = ["n_frames"] if count and count[1] == column else []
        part = best[[*keys, "value", "ci_low", "ci_high", "layer", *extra]].rename(
            columns={
                "value": column,
                "ci_low": f"{column}_low",
                "ci_high": f"{column}_high",
                "layer": f"{column}_layer",
                "n_frames": count[0] if count else "n_frames",
            }
        )
        out = part if out is None else out.merge(part, on=keys, how="outer")
    return out.sort_values(["model_tag", "code"]).reset_index(drop=True) if out is not None else pd.DataFrame()


def transfer_table(df: pd.DataFrame, *, target: str = "f0_voiced", metric: str = "r") -> pd.DataFrame:
    """Per (model, test language): ``within``, ``pooled``, ``others`` and the mean over single train languages
    (``single_mean`` of ``single_n``), each probe at its own best layer (lowest dev MSE, :func:`best_layers`).

    ``others`` (every study language but the test language) is the zero-shot question asked with the
    most data the study has; ``within - others`` is what the language's own data adds.
    """
    best = best_layers(df[df.kind.isin(["within", "transfer"])], target=target, metric=metric)
    cols = ["model_tag", "code", "language", "tone_class", "within", "pooled", "others", "single_mean", "single_n"]
    rows = []
    for (tag, code), g in best.groupby(["model_tag", "code"], sort=True):
        by = g.set_index("train_language").value
        single = by.drop(labels=[code, "pooled", "others"], errors="ignore")
        first = g.iloc[0]
        rows.append(
            {
                "model_tag": tag,
                "code": code,
                "language": first.language,
                "tone_class": first.tone_class,
                "within": by.get(code, np.nan),
                "pooled": by.get("pooled", np.nan),
                "others": by.get("others", np.nan),
                "single_mean": single.mean() if len(single) else np.nan,
                "single_n": len(single),
            }
        )
    return pd.DataFrame(rows, columns=cols)
