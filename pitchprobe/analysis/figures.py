"""The study's figures (matplotlib; PNG and SVG; Okabe-Ito colour-blind-safe palette).

Every function takes the tidy table (:mod:`pitchprobe.analysis.aggregate`), draws one
figure, saves ``<out_dir>/<name>.png`` and ``.svg``, and returns the PNG path ((b): one per model of more
than one layer). (f) is in :mod:`pitchprobe.analysis.transfer_figure`, (g) in
:mod:`pitchprobe.analysis.examples_figure`.
The metric shown is chosen by ``target``/``metric`` (default: Pearson r of the
voiced-F0 probe, which is comparable across languages with different F0 ranges).
"""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from pitchprobe.analysis.aggregate import best_layers
from pitchprobe.analysis.findings import MIN_GROUP

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
HIGHLIGHT = "en_us"
STYLE = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "figure.dpi": 110}


def _styled(draw):
    """Draw under :data:`STYLE` (a ``matplotlib.rc_context``): the caller's rcParams are left as they were."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return wrapper


def _subplots(*args, figsize, **kwargs):
    """A figure of its own (no pyplot, so no global backend or figure registry is touched) and its axes."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def _label(target: str, metric: str) -> str:
    names = {
        "r": "Pearson r",
        "r2": "R²",
        "r_within": "within-utterance r",
        "rmse_hz": "RMSE (Hz)",
        "rmse_cents": "RMSE (cents)",
        "mse_hz2": "MSE (Hz²)",
        "mse_log": "log-F0 MSE",
    }
    probes = {
        "f0_all": "F0 probe, all frames",
        "f0_voiced": "F0 probe, voiced",
        "logf0_voiced": "log-F0 probe, voiced",
        "st_utt": "movement (st re utterance median)",
        "register": "register (utterance median, st)",
    }
    return f"{names.get(metric, metric)} — {probes.get(target, target)}"


def _save(fig, out_dir: Path, name: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    fig.savefig(png, bbox_inches="tight", dpi=130)
    fig.savefig(out_dir / f"{name}.svg", bbox_inches="tight")
    return png


def _within(df: pd.DataFrame) -> pd.DataFrame:
    return df[df.kind == "within"]


def _reported(df: pd.DataFrame, model_tag: str, train_language: str, code: str) -> bool:
    """Whether ``df`` (the results a report reads) holds the result of these probes on ``code``."""
    return bool(((df.model_tag == model_tag) & (df.train_language == train_language) & (df.code == code)).any())


def _controls(df: pd.DataFrame) -> dict[str, bool]:
    """``{model tag: is a random-init control}``, from the table (tags of controls may carry a hash)."""
    return {t: bool(r) for t, r in zip(df.model_tag, df.random_init)}


def _model_order(df: pd.DataFrame) -> list[str]:
    control = _controls(df)
    return sorted(control, key=lambda t: (control[t], t))


@_styled
def best_layer_per_language(df, out_dir, *, target="f0_voiced", metric="r", ceiling=None, estimated=None) -> Path:
    """(a) Best-layer metric per language, sorted, English highlighted, mean line, bootstrap whiskers.

    ``ceiling`` ``{code: r}``: the lowest between-tracker r involving the probed labels, drawn as a tick over
    each language's bar: a conservative reference for a probe's r. ``estimated`` ``{code: r}``: the estimated
    r of the labels with the true F0 (:func:`pitchprobe.analysis.agreement.reliability`), the ceiling itself,
    drawn as a diamond.
    """
    best = best_layers(_within(df), target=target, metric=metric)
    models = _model_order(best)
    n_lang = best.code.nunique()
    fig, axes = _subplots(len(models), 1, figsize=(max(6, 0.22 * n_lang + 2), 2.6 * len(models)), squeeze=False)
    for ax, tag in zip(axes[:, 0], models):
        b = best[best.model_tag == tag].sort_values("value")
        x = np.arange(len(b))
        colors = [OKABE_ITO[3] if c == HIGHLIGHT else OKABE_ITO[0] for c in b.code]
        ax.bar(x, b.value, color=colors)
        several = layer_counts(df).get(tag, 1) > 1
        for xi, (value, layer) in enumerate(zip(b.value, b.layer)) if several else ():  # the best layer, in its bar
            inside = abs(value) > 0.15 * np.nanmax(np.abs(b.value))  # white on the bar, black where it is short
            ax.text(xi, 0, f"L{int(layer)}", ha="center", va="top" if value < 0 else "bottom", fontsize=7,
                    color="w" if inside else "k", rotation=90 if n_lang > 20 else 0)  # fmt: skip
        # a percentile interval need not contain the estimate: whiskers never go negative
        err = np.clip(np.vstack([b.value - b.ci_low, b.ci_high - b.value]), 0, None)
        if np.isfinite(err).any():
            ax.errorbar(x, b.value, yerr=np.nan_to_num(err), fmt="none", ecolor="0.3", lw=0.8, capsize=2)
        ax.axhline(b.value.mean(), color=OKABE_ITO[1], ls="--", lw=1.2, label=f"mean {b.value.mean():.3f}")
        if ceiling:
            top = np.array([ceiling.get(c, np.nan) for c in b.code])
            ax.scatter(x, top, marker="_", s=160, color="k", lw=2, zorder=3, label="between-tracker r")
            ax.set_ylim(top=max(ax.get_ylim()[1], 1.05))
        if estimated:
            est = np.array([estimated.get(c, np.nan) for c in b.code])
            ax.scatter(x, est, marker="D", s=14, color=OKABE_ITO[5], zorder=4, label="labels vs true F0 (est. ceiling)")
        ax.set_xticks(x, b.code, rotation=90, fontsize=8 if n_lang > 30 else 9)
        title = f"{tag}: best layer per language" + (" (L: the best layer, lowest dev MSE)" if several else "")
        ax.set_title(textwrap.fill(title, int(7 * fig.get_figwidth())))  # never wider than its axes
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.supylabel(_label(target, metric), fontsize=9)  # once for the figure: stacked panels' labels collide
    fig.tight_layout()
    return _save(fig, out_dir, "a_best_layer_per_language")


def layer_counts(df: pd.DataFrame) -> dict[str, int]:
    """``{model tag: number of probed layers}`` (fbank and other one-layer baselines: 1)."""
    probes = df[df.predictor == "probe"]
    return {tag: int(n) for tag, n in probes.groupby("model_tag").layer.nunique().items()}


@_styled
def layers_by_language(df, out_dir, *, target="f0_voiced", metric="r") -> list[tuple[str, Path]]:
    """(b) Layer x language heatmap and the per-layer mean with its spread, one figure per model of more than one
    layer (a one-layer model has no per-layer view: its values are in (a)); ``[(model tag, PNG path)]``."""
    sel = _within(df)
    sel = sel[(sel.predictor == "probe") & (sel.target == target) & (sel.metric == metric)]
    out = []
    several = {t for t, n in layer_counts(sel).items() if n > 1}
    for tag in [t for t in _model_order(sel) if t in several]:
        m = sel[sel.model_tag == tag].pivot_table(index="code", columns="layer", values="value")
        fig, (ax1, ax2) = _subplots(
            1, 2, figsize=(11, max(3, 0.16 * len(m) + 1.5)), gridspec_kw={"width_ratios": [3, 2]}
        )
        im = ax1.imshow(m.values, aspect="auto", cmap="viridis")
        ax1.set_yticks(range(len(m)), m.index, fontsize=7 if len(m) > 30 else 9)
        ax1.set_xticks(range(m.shape[1]), m.columns)
        ax1.set_xlabel("layer")
        ax1.set_title(f"{tag}: every layer, every language")
        fig.colorbar(im, ax=ax1, label=_label(target, metric))
        mean, lo, hi = m.mean(0), m.quantile(0.1), m.quantile(0.9)
        ax2.plot(m.columns, mean, "o-", color=OKABE_ITO[0], label="mean over languages")
        ax2.fill_between(m.columns, lo, hi, color=OKABE_ITO[0], alpha=0.2, label="10–90 % of languages")
        if HIGHLIGHT in m.index:
            ax2.plot(m.columns, m.loc[HIGHLIGHT], "s--", color=OKABE_ITO[3], label=HIGHLIGHT)
        ax2.set_xlabel("layer")
        ax2.set_ylabel(_label(target, metric), fontsize=8)
        ax2.legend(fontsize=8)
        fig.tight_layout()
        out.append((tag, _save(fig, out_dir, f"b_layers_by_language_{tag}")))
    return out


@_styled
def _grouped(df, out_dir, column, name, title, *, target, metric, tests=None) -> Path:
    best = best_layers(_within(df), target=target, metric=metric)
    models = _model_order(best)
    fig, axes = _subplots(1, len(models), figsize=(4.2 * len(models), 3.8), squeeze=False, sharey=True)
    for ax, tag in zip(axes[0], models):
        b = best[best.model_tag == tag]
        groups = sorted(b[column].dropna().unique())
        data = [b[b[column] == g].value.to_numpy() for g in groups]
        boxed = [i for i, d in enumerate(data, start=1) if d.size >= MIN_GROUP]  # no box (nor test) for fewer
        if boxed:
            ax.boxplot([data[i - 1] for i in boxed], positions=boxed, showfliers=False, widths=0.5)
        rng = np.random.default_rng(0)
        for i, d in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.12, 0.12, d.size), d, s=14, color=OKABE_ITO[i % 7], zorder=3)
        names = [textwrap.fill(str(g).replace("_", " "), 12) + f"\nn={d.size}" for g, d in zip(groups, data)]
        ax.set_xticks(range(1, len(groups) + 1), names, fontsize=8 if len(groups) > 4 else 9)
        ax.set_xlim(0.4, len(groups) + 0.6)
        t = (tests or {}).get(tag)
        if t and t.get("p_value") is not None:
            extra = f"\npermutation p = {t['p_value']:.3g}"
        else:
            extra = f"\nno test: fewer than 2 groups of ≥ {MIN_GROUP} languages"
        ax.set_title(f"{tag}{extra}", fontsize=9)
    axes[0, 0].set_ylabel(_label(target, metric), fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out_dir, name)


def by_group(df, out_dir, *, target="f0_voiced", metric="r", tests=None) -> Path:
    """(c) Best-layer metric by FLEURS language group."""
    return _grouped(
        df, out_dir, "lang_group", "c_by_language_group", "By language group", target=target, metric=metric, tests=tests
    )


def by_tone_class(df, out_dir, *, target="f0_voiced", metric="r", tests=None) -> Path:
    """(d) Best-layer metric by tone class, with the permutation test's p-value."""
    return _grouped(
        df, out_dir, "tone_class", "d_by_tone_class", "By tone class", target=target, metric=metric, tests=tests
    )


@_styled
def models_by_layer(df, out_dir, *, target="f0_voiced", metric="r") -> Path:
    """(e) Models compared layer by layer (mean over languages, 10–90 % band); random-init controls dashed."""
    sel = _within(df)
    sel = sel[(sel.predictor == "probe") & (sel.target == target) & (sel.metric == metric)]
    fig, ax = _subplots(figsize=(8.5, 4))
    control = _controls(sel)
    name_of = dict(zip(sel.model_tag, sel.model))
    base = [name_of[t] for t in _model_order(sel) if not control[t]]  # a control shares its model's colour
    banded = False
    for tag in _model_order(sel):
        m = sel[sel.model_tag == tag].pivot_table(index="code", columns="layer", values="value")
        root = name_of[tag]
        color = OKABE_ITO[base.index(root) % 8] if root in base else OKABE_ITO[7]
        style = "--" if control[tag] else "-"
        mean = m.mean(0)
        if len(mean) == 1:  # a single-layer baseline (fbank, mfcc): a level line
            ax.axhline(mean.iloc[0], color=color, ls=style, label=f"{tag} (one layer)")
            continue
        ax.plot(mean.index, mean, style, marker="o", color=color, label=tag)
        ax.fill_between(mean.index, m.quantile(0.1), m.quantile(0.9), color=color, alpha=0.12)
        banded = True
    ax.set_xlabel("layer")
    ax.set_ylabel(_label(target, metric), fontsize=8)
    ax.set_title("Models compared layer by layer (mean over languages)")
    handles, names = ax.get_legend_handles_labels()
    if banded:  # the bands, in the legend too
        handles.append(Patch(color="0.5", alpha=0.25, label="10–90 % of languages (band)"))
        names.append("10–90 % of languages (band)")
    ax.legend(handles, names, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return _save(fig, out_dir, "e_models_by_layer")


@_styled
def movement_register(headline: pd.DataFrame, out_dir) -> Path | None:
    """(h) Movement (within-utterance r of ``st_utt``) against register (r of ``register``) per language, one
    panel per model, each at its own best layer; tonal languages in orange."""
    if headline.empty or headline[["movement", "register"]].isna().all().all():
        return None
    models = sorted(headline.model_tag.unique())
    fig, axes = _subplots(1, len(models), figsize=(4.2 * len(models), 4), squeeze=False)
    for ax, tag in zip(axes[0], models):
        h = headline[headline.model_tag == tag]
        tonal = h.tone_class.astype(str) == "tonal"
        for mask, color, label in ((~tonal, OKABE_ITO[0], "non-tonal / other"), (tonal, OKABE_ITO[1], "tonal")):
            ax.scatter(h.register[mask], h.movement[mask], color=color, s=22, label=label)
        for _, row in h.iterrows() if len(h) <= 30 else ():
            ax.annotate(row.code, (row.register, row.movement), fontsize=7, xytext=(3, 2), textcoords="offset points")
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls=":")
        ax.set_xlim(min(-0.05, np.nanmin(h.register) - 0.05), 1.02)
        ax.set_ylim(min(-0.05, np.nanmin(h.movement) - 0.05), 1.02)
        ax.set_xlabel("register: r of the utterance-median probe")
        ax.set_ylabel("movement: within-utterance r (st re median)")
        ax.set_title(tag)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return _save(fig, out_dir, "h_movement_register")
