"""(f) Cross-lingual transfer: train x test matrices on one colour scale for every model, values in the cells,
and transfer against within-language with each point named by its test language."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize

from pitchprobe.analysis.aggregate import best_layers
from pitchprobe.analysis.figures import _label, _model_order, _save, _styled, _subplots, _within

SPECIAL = ("pooled", "others")  # rows of probes fitted on several languages, drawn last
MAX_ANNOTATED = 400  # cells; a larger matrix carries no numbers (they would not be legible)
MARKERS = {"pooled": "s", "others": "D"}
OFFSETS = {"pooled": (4, 3), "others": (4, -8)}  # where each kind of point's name sits (points)
MAX_NAMED = 30  # points per scatter named by their test language


def transfer_matrices(df: pd.DataFrame, *, target: str = "f0_voiced", metric: str = "r") -> dict[str, pd.DataFrame]:
    """Per model: train language (rows; ``pooled`` and ``others`` last) x test language of ``metric``, each probe
    at the layer of lowest dev MSE; the diagonal is within-language. Single train languages that reach only
    themselves are left out. No transfer results: ``{}``."""
    sel = (df.predictor == "probe") & (df.target == target) & (df.metric == metric)
    tr = df[sel & (df.kind == "transfer")]
    out = {}
    for tag in _model_order(tr) if not tr.empty else []:
        t = df[sel & (df.model_tag == tag) & (df.kind.isin(["transfer", "within"]))]
        best = best_layers(t, target=target, metric=metric)
        mat = best.pivot_table(index="train_language", columns="code", values="value")
        special = [r for r in SPECIAL if r in mat.index]
        rows = [r for r in mat.index if r not in special and mat.loc[r].notna().sum() > 1]
        out[tag] = mat.loc[rows + special]
    return out


def shared_norm(mats: dict[str, pd.DataFrame]) -> Normalize:
    """One colour scale for every model's matrix: from the lowest to the highest value of all of them."""
    vals = np.concatenate([m.to_numpy(dtype=float).ravel() for m in mats.values()] or [np.array([np.nan])])
    vals = vals[np.isfinite(vals)]
    lo, hi = (float(vals.min()), float(vals.max())) if vals.size else (0.0, 1.0)
    return Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1e-6)


def _annotate(ax, mat: pd.DataFrame, norm: Normalize) -> None:
    if mat.size > MAX_ANNOTATED:
        return
    size = 8 if mat.shape[1] <= 12 else 6
    for i in range(mat.shape[0]):
        for j in range(mat.shape[1]):
            v = mat.iat[i, j]
            if np.isfinite(v):
                dark = norm(v) < 0.55  # viridis: light text on its dark half
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=size, color="w" if dark else "k")


@_styled
def transfer(df, out_dir, *, target="f0_voiced", metric="r", name="f_transfer", what=None):
    """(f) Transfer matrix (train x test language, the diagonal within-language; rows ``pooled`` and ``others``
    last; values in the cells; one colour scale across models) and transfer against within-language scores
    (each point named by its test language). Each probe's layer is the one of lowest dev MSE. ``what``: the
    quantity's name in the titles. Returns the PNG path, or None without transfer results."""
    mats = transfer_matrices(df, target=target, metric=metric)
    if not mats:
        return None
    what = what or _label(target, metric)
    norm = shared_norm(mats)
    own_all = best_layers(_within(df), target=target, metric=metric)
    n_test = max(m.shape[1] for m in mats.values())
    fig, axes = _subplots(len(mats), 2, figsize=(12, 4.2 * len(mats) + 0.1 * n_test), squeeze=False)
    for (ax1, ax2), (tag, mat) in zip(axes, mats.items()):
        im = ax1.imshow(mat.values, aspect="auto", cmap="viridis", norm=norm)
        _annotate(ax1, mat, norm)
        ax1.set_xticks(range(mat.shape[1]), mat.columns, rotation=90, fontsize=8 if mat.shape[1] < 40 else 5)
        ax1.set_yticks(range(mat.shape[0]), mat.index, fontsize=8 if mat.shape[0] < 40 else 5)
        ax1.set_xlabel("test language")
        ax1.set_ylabel("train language")
        ax1.set_title(f"{tag}: transfer (each probe's best layer on dev)", fontsize=10)
        fig.colorbar(im, ax=ax1, label=what)
        own = own_all[own_all.model_tag == tag].set_index("code").value
        many = len(mat.index) > 8
        for train in mat.index:
            sub = mat.loc[train].drop(labels=[train], errors="ignore").dropna()
            if sub.empty:
                continue
            style = {"s": 22, "zorder": 3} if train in SPECIAL else ({"s": 8, "color": "0.65"} if many else {"s": 18})
            style["marker"] = MARKERS.get(train, "o")  # points that coincide stay apart by shape
            label = f"trained on {train}" if train in SPECIAL or not many else None
            ax2.scatter(own.reindex(sub.index), sub, label=label, **style)
            if len(sub) <= MAX_NAMED and (train in SPECIAL or not many):
                for code, v in sub.items():
                    at, off = (own.get(code, np.nan), v), OFFSETS.get(train, (-3, 2))  # apart by train language
                    ha = "right" if off[0] < 0 else "left"
                    ax2.annotate(code, at, fontsize=7, xytext=off, textcoords="offset points", ha=ha)
        lims = [np.nanmin([ax2.get_xlim()[0], ax2.get_ylim()[0]]), np.nanmax([ax2.get_xlim()[1], ax2.get_ylim()[1]])]
        ax2.plot(lims, lims, color="0.5", lw=0.8, ls=":", label="transfer = within")
        ax2.set_xlabel("within-language")
        ax2.set_ylabel("transfer")
        ax2.set_title("transfer vs within-language" + (" (grey: single train languages)" if many else ""), fontsize=10)
        ax2.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(what)
    fig.tight_layout()
    return _save(fig, out_dir, name)
