"""The study's figures (matplotlib; PNG and SVG; Okabe-Ito colour-blind-safe palette).

Every function takes the tidy table (:mod:`pitchprobe.analysis.aggregate`), draws one
figure, saves ``<out_dir>/<name>.png`` and ``.svg``, and returns the PNG path.
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

from pitchprobe.analysis.aggregate import best_layers
from pitchprobe.core.audio import SAMPLING_RATE
from pitchprobe.core.layout import RunLayout

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
        ax.set_title(f"{tag}: best layer per language")
        ax.set_ylabel(_label(target, metric), fontsize=8)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    return _save(fig, out_dir, "a_best_layer_per_language")


@_styled
def layers_by_language(df, out_dir, *, target="f0_voiced", metric="r") -> list[Path]:
    """(b) Layer x language heatmap and the per-layer mean with its spread, one figure per model."""
    sel = _within(df)
    sel = sel[(sel.predictor == "probe") & (sel.target == target) & (sel.metric == metric)]
    out = []
    for tag in _model_order(sel):
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
        out.append(_save(fig, out_dir, f"b_layers_by_language_{tag}"))
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
        ax.boxplot(data, showfliers=False, widths=0.5)
        rng = np.random.default_rng(0)
        for i, d in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.12, 0.12, d.size), d, s=14, color=OKABE_ITO[i % 7], zorder=3)
        names = [textwrap.fill(str(g).replace("_", " "), 12) for g in groups]
        ax.set_xticks(range(1, len(groups) + 1), names, fontsize=8 if len(groups) > 4 else 9)
        t = (tests or {}).get(tag)
        extra = f"\npermutation p = {t['p_value']:.3g}" if t and t.get("p_value") is not None else ""
        ax.set_title(f"{tag}{extra}")
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
    fig, ax = _subplots(figsize=(7, 4))
    control = _controls(sel)
    name_of = dict(zip(sel.model_tag, sel.model))
    base = [name_of[t] for t in _model_order(sel) if not control[t]]  # a control shares its model's colour
    for tag in _model_order(sel):
        m = sel[sel.model_tag == tag].pivot_table(index="code", columns="layer", values="value")
        root = name_of[tag]
        color = OKABE_ITO[base.index(root) % 8] if root in base else OKABE_ITO[7]
        style = "--" if control[tag] else "-"
        mean = m.mean(0)
        if len(mean) == 1:  # a single-layer baseline (fbank, mfcc): a level line
            ax.axhline(mean.iloc[0], color=color, ls=style, label=tag)
            continue
        ax.plot(mean.index, mean, style, marker="o", color=color, label=tag)
        ax.fill_between(mean.index, m.quantile(0.1), m.quantile(0.9), color=color, alpha=0.12)
    ax.set_xlabel("layer")
    ax.set_ylabel(_label(target, metric), fontsize=8)
    ax.set_title("Models compared layer by layer (mean over languages)")
    ax.legend(fontsize=8)
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


@_styled
def transfer(df, out_dir, *, target="f0_voiced", metric="r") -> Path | None:
    """(f) Transfer matrix (train x test language, the diagonal within-language; rows ``pooled`` and ``others``
    last) and transfer against within-language scores. Each probe's layer is the one of lowest dev MSE."""
    sel = (df.predictor == "probe") & (df.target == target) & (df.metric == metric)
    tr = df[sel & (df.kind == "transfer")]
    if tr.empty:
        return None
    within = best_layers(_within(df), target=target, metric=metric)
    models = _model_order(tr)
    fig, axes = _subplots(len(models), 2, figsize=(11, 3.8 * len(models) + 0.1 * tr.code.nunique()), squeeze=False)
    for (ax1, ax2), tag in zip(axes, models):
        t = df[sel & (df.model_tag == tag) & (df.kind.isin(["transfer", "within"]))]
        w = within[within.model_tag == tag].set_index("code")
        rows = []
        for (train, test), g in t.groupby(["train_language", "code"]):
            dev = pd.to_numeric(g["dev_mse"], errors="coerce")
            pick = dev.idxmin() if dev.notna().any() else g.value.idxmax()
            rows.append((train, test, g.loc[pick, "value"]))
        mat = pd.DataFrame(rows, columns=["train", "test", "value"]).pivot(
            index="train", columns="test", values="value"
        )
        special = [r for r in ("pooled", "others") if r in mat.index]
        mat = mat.loc[[r for r in mat.index if r not in special and mat.loc[r].notna().sum() > 1] + special]
        im = ax1.imshow(mat.values, aspect="auto", cmap="viridis")
        ax1.set_xticks(range(mat.shape[1]), mat.columns, rotation=90, fontsize=8 if mat.shape[1] < 40 else 5)
        ax1.set_yticks(range(mat.shape[0]), mat.index, fontsize=8 if mat.shape[0] < 40 else 5)
        ax1.set_xlabel("test language")
        ax1.set_ylabel("train language")
        ax1.set_title(f"{tag}: transfer (each probe's best layer on dev)")
        fig.colorbar(im, ax=ax1, label=_label(target, metric))
        own = w.value
        many = len(mat.index) > 8
        for train in mat.index:
            sub = mat.loc[train].drop(labels=[train], errors="ignore").dropna()
            style = {"s": 22, "zorder": 3} if train in special else ({"s": 8, "color": "0.65"} if many else {"s": 18})
            label = f"trained on {train}" if train in special or not many else None
            ax2.scatter(own.reindex(sub.index), sub, label=label, **style)
        lims = [np.nanmin([ax2.get_xlim()[0], ax2.get_ylim()[0]]), np.nanmax([ax2.get_xlim()[1], ax2.get_ylim()[1]])]
        ax2.plot(lims, lims, color="0.5", lw=0.8, ls=":")
        ax2.set_xlabel(f"within-language ({metric})")
        ax2.set_ylabel(f"transfer ({metric})")
        ax2.set_title("transfer vs within-language" + (" (grey: single train languages)" if many else ""))
        if ax2.get_legend_handles_labels()[0]:
            ax2.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, out_dir, "f_transfer")


MAX_EXAMPLES = 12  # languages shown in (g)


@_styled
def contour_examples(
    run_dir: Path, df, out_dir, *, model_tag: str | None = None, target="f0_voiced", metric="r", labels="pyaapt"
) -> Path | None:
    """(g) The labels' contour (by tracker ``labels``) against the best layer's predicted contour (and the pooled
    probe's, where there is one), one test utterance per language; at most :data:`MAX_EXAMPLES` languages,
    spread over the range of the best layers' scores."""
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
    if axes.flat[0].get_legend_handles_labels()[0]:
        axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"{model_tag}: {labels} F0 and the best layer's prediction (voiced frames)")
    fig.tight_layout()
    return _save(fig, out_dir, "g_contour_examples")
