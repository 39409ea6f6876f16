"""(g) Data examples: the labels' contour, the true F0 where the corpus knows it, and the probes' predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pitchprobe.analysis.aggregate import best_layers
from pitchprobe.analysis.figures import OKABE_ITO, _reported, _save, _styled, _subplots, _within
from pitchprobe.core.audio import SAMPLING_RATE
from pitchprobe.core.layout import RunLayout


def true_contour(corpus: Path | None, code: str, uid: str, centres) -> np.ndarray | None:
    """The true F0 (Hz, 0 = unvoiced) at ``centres`` (sample positions of the label frames) of test utterance
    ``uid``, from ``<corpus>/truth/<code>/test/<uid>.npy`` (:func:`pitchprobe.data.synth.write_corpus`); None where
    the corpus has no truth file for it."""
    from pitchprobe.data.synth import true_f0_at

    path = Path(corpus) / "truth" / code / "test" / f"{uid}.npy" if corpus else None
    if path is None or not path.is_file():
        return None
    return true_f0_at(np.load(path), np.asarray(centres, dtype=np.float64))


MAX_EXAMPLES = 12  # languages shown in (g)


@_styled
def contour_examples(
    run_dir: Path,
    df,
    out_dir,
    *,
    model_tag: str | None = None,
    target="f0_voiced",
    metric="r",
    labels="pyaapt",
    corpus: Path | None = None,
) -> Path | None:
    """(g) The labels' contour (by tracker ``labels``) against the best layer's predicted contour (and the pooled
    probe's, where there is one), one test utterance per language; at most :data:`MAX_EXAMPLES` languages,
    spread over the range of the best layers' scores. ``corpus``: where the corpus keeps the true F0
    (:func:`true_contour`), drawn where known."""
    best = best_layers(_within(df), target=target, metric=metric)
    if best.empty:
        return None
    model_tag = model_tag or best.groupby("model_tag").value.mean().idxmax()  # the most informative model
    best = best[best.model_tag == model_tag].sort_values("value", ascending=False)
    if len(best) > MAX_EXAMPLES:  # best, worst and evenly between
        best = best.iloc[np.unique(np.linspace(0, len(best) - 1, MAX_EXAMPLES).round().astype(int))]
    best = best.sort_values("code")
    n = len(best)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = _subplots(rows, cols, figsize=(4.2 * cols, 2.6 * rows), squeeze=False)
    for ax, (_, b) in zip(axes.flat, best.iterrows()):
        pred = RunLayout(run_dir).within(model_tag, b.code).predictions
        if not pred.is_file():
            ax.set_axis_off()
            continue
        p = pd.read_parquet(pred, filters=[("layer", "=", int(b.layer))])
        if p.empty:
            ax.set_axis_off()
            continue
        row = p.iloc[int(np.argmax(p.f0_hz.map(lambda f: (np.asarray(f) > 0).sum())))]  # the most voiced utterance
        f0 = np.asarray(row.f0_hz, dtype=float)
        t = np.asarray(row.centre_samples, dtype=float) / SAMPLING_RATE  # where each label frame sits
        pr = np.asarray(row[f"pred_{target}"], dtype=float)
        pr = np.exp(pr) if target == "logf0_voiced" else pr
        v = f0 > 0
        truth = true_contour(corpus, b.code, row.id, row.centre_samples)
        if truth is not None:
            ax.plot(t, np.where(truth > 0, truth, np.nan), color=OKABE_ITO[2], lw=3, alpha=0.5, label="true F0")
        ax.plot(t, np.where(v, f0, np.nan), color="0.2", lw=1.5, label=labels)
        ax.plot(t, np.where(v, pr, np.nan), color=OKABE_ITO[3], lw=1.2, label=f"layer {int(b.layer)} probe")
        pooled = RunLayout(run_dir).transfer(model_tag, "pooled", b.code).predictions
        if pooled.is_file() and _reported(df, model_tag, "pooled", b.code):  # not one left from other settings
            q = pd.read_parquet(pooled, filters=[("layer", "=", int(b.layer)), ("id", "=", row.id)])
            if len(q):
                pq_ = np.asarray(q.iloc[0][f"pred_{target}"], dtype=float)
                pq_ = np.exp(pq_) if target == "logf0_voiced" else pq_
                ax.plot(t, np.where(v, pq_, np.nan), color=OKABE_ITO[5], lw=1.0, ls="--", label="pooled probe")
        ax.set_title(f"{b.code} ({b.tone_class}) · {row.id}", fontsize=9)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("F0 (Hz)")
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    handles, names = axes.flat[0].get_legend_handles_labels()
    if handles:  # one legend beside the panels, over no contour
        fig.legend(handles, names, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 0.9))
    known = ", the true F0" if corpus and (Path(corpus) / "truth").is_dir() else ""
    fig.suptitle(f"{model_tag}: {labels} F0{known} and the best layer's prediction (voiced frames)")
    fig.tight_layout()
    return _save(fig, out_dir, "g_contour_examples")
