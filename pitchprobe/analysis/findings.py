"""The report's findings: what the numbers say, computed from the tidy table and the tests, with their caveats.

Each sentence states its numbers (means over languages, each language at its own best layer, chosen on dev),
and says nothing conclusive where a comparison has too few languages (:data:`MIN_GROUP`).
"""

from __future__ import annotations

import pandas as pd

from pitchprobe.analysis.aggregate import best_layers

MIN_GROUP = 2  # languages a group needs to enter a permutation test
MOVEMENT = ("st_utt", "r_within")  # movement: within-utterance r of semitones re the utterance median


def _controls(df: pd.DataFrame) -> dict[str, bool]:
    return {t: bool(r) for t, r in zip(df.model_tag, df.random_init)}


def model_findings(df: pd.DataFrame, *, target: str, metric: str) -> pd.DataFrame:
    """Per model: the layer chosen (lowest dev MSE) for most languages (``layer``, chosen for ``n_chosen`` of
    ``n_languages``), its layer count, and the mean, lowest and highest ``metric`` over languages, each at its own
    best layer (``mean``, ``low``, ``high``); the layers the other languages chose (``elsewhere``); random-init
    controls last."""
    within = df[df.kind == "within"]
    best = best_layers(within, target=target, metric=metric)
    control = _controls(within)
    n_layers = within[within.predictor == "probe"].groupby("model_tag").layer.nunique()
    rows = []
    for tag, b in best.groupby("model_tag"):
        counts = b.layer.value_counts()
        top = int(min(counts.index[counts == counts.max()]))  # the lowest of the most chosen layers
        rows.append(
            {
                "model_tag": tag,
                "model": b.model.iloc[0],
                "random_init": control[tag],
                "layers": int(n_layers[tag]),
                "layer": top,
                "n_chosen": int(counts[top]),
                "elsewhere": sorted(int(x) for x in counts.index if x != top),
                "n_languages": len(b),
                "mean": float(b.value.mean()),
                "low": float(b.value.min()),
                "high": float(b.value.max()),
            }
        )
    cols = ["model_tag", "model", "random_init", "layers", "layer", "n_chosen", "elsewhere", "n_languages"]
    cols += ["mean", "low", "high"]
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["random_init", "model_tag"]).reset_index(drop=True)


def _models_sentence(models: pd.DataFrame, metric: str) -> str:
    parts = []
    for row in models.itertuples():
        spread = f"{row.low:.2f}–{row.high:.2f}, " if row.n_languages > 1 else ""
        where = f"best layer {row.layer} (lowest dev MSE in {row.n_chosen} of {row.n_languages} languages"
        where += f"; elsewhere {', '.join(map(str, row.elsewhere))})" if row.elsewhere else ")"
        where = where if row.layers > 1 else "one layer"
        name = f"{row.model_tag} (random-init)" if row.random_init else row.model_tag
        text = f"{name}: {where}; mean {metric} {row.mean:.2f} ({spread}n = {row.n_languages})"
        if not row.random_init:
            ctrl = models[models.random_init & (models.model == row.model)]
            if len(ctrl):
                c = ctrl.iloc[0]
                text += (
                    f", against {c['mean']:.2f} for its random-init control (difference {row.mean - c['mean']:+.2f})"
                )
        parts.append(text)
    fbank = models[models.model == "fbank"]
    out = "Best layers. " + "; ".join(parts) + "."
    if len(fbank) and len(models) > 1:
        f = fbank.iloc[0]
        others = models[models.model != "fbank"]
        diff = ", ".join(f"{r.model_tag} {r.mean - f['mean']:+.2f}" for r in others.itertuples())
        out += f" Against fbank ({f['mean']:.2f}): {diff}."
    return out


def group_note(test: dict | None) -> str:
    """Why a group test has no F and p, or '' when it has them."""
    if not test:
        return "no test"
    small = {g: v["n"] for g, v in test["groups"].items() if v["n"] < MIN_GROUP}
    if test.get("p_value") is not None:
        return f"left out (fewer than {MIN_GROUP} languages): {', '.join(small)}" if small else ""
    why = test.get("reason", "too few languages")
    return f"no test: {why}" + (f" ({', '.join(f'{g}: n={n}' for g, n in small.items())})" if small else "")


def _tone_sentence(tests: dict, metric: str) -> str:
    parts = []
    for tag, t in tests.get("tone_class", {}).items():
        groups = ", ".join(f"{g} {v['mean']:.2f} (n = {v['n']})" for g, v in t["groups"].items())
        if t.get("p_value") is not None:
            verdict = f"permutation F = {t['statistic']:.2f}, p = {t['p_value']:.3g}"
            note = group_note(t)
            verdict += f"; {note}" if note else ""
        else:
            verdict = f"nothing conclusive ({group_note(t)})"
        parts.append(f"{tag}: {groups}; {verdict}")
    if not parts:
        return ""
    return f"Tone classes (mean {metric} at each language's best layer). " + "; ".join(parts) + "."


def _transfer_sentence(transfer: dict[str, pd.DataFrame]) -> str:
    parts = []
    for name, tab in transfer.items():
        if tab is None or tab.empty:
            continue
        for tag, g in tab.groupby("model_tag"):
            said = []
            for col, what in (("others", "zero-shot (all other languages)"), ("pooled", "pooled")):
                both = g[["within", col]].dropna()
                if len(both):
                    d = both[col] - both["within"]
                    said.append(
                        f"{what} {both[col].mean():.2f} against within-language {both['within'].mean():.2f} "
                        f"(difference {d.mean():+.2f}, {int((d < 0).sum())} of {len(d)} languages lower)"
                    )
            if said:
                parts.append(f"{name}, {tag}: " + "; ".join(said))
    return ("Transfer. " + "; ".join(parts) + ".") if parts else ""


def findings_text(
    df: pd.DataFrame,
    tests: dict,
    transfer: dict[str, pd.DataFrame],
    *,
    target: str,
    metric: str,
    chosen_on_test: list[str] = (),
) -> str:
    """The findings paragraph: best layer per model (against its random-init control and fbank), tone classes
    (with the permutation tests' F, p and n), transfer against within-language (``transfer``: ``{name: table of
    :func:`pitchprobe.analysis.aggregate.transfer_table`}``), then the caveats."""
    models = model_findings(df, target=target, metric=metric)
    if models.empty:
        return "No findings: no current within-language results."
    n_lang = int(models.n_languages.max())
    lines = [f"Measure: {metric} of the {target} probe on the test split.", _models_sentence(models, metric)]
    if (target, metric) != MOVEMENT:
        movement = model_findings(df, target=MOVEMENT[0], metric=MOVEMENT[1])
        if not movement.empty and movement["mean"].notna().any():
            lines.append("Movement (within-utterance r of st_utt). " + _models_sentence(movement, "r_within")[13:])
    lines += [s for s in (_tone_sentence(tests, metric), _transfer_sentence(transfer)) if s]
    caveats = [
        f"{n_lang} language{'s' if n_lang != 1 else ''}: a mean over so few languages is not a population estimate"
        if n_lang < 10
        else f"{n_lang} languages",
        "each language's layer is chosen on dev and scored on test; the 95 % intervals in the tables are over test "
        "utterances, not over languages",
        "group tests permute languages, so with few languages per group even large differences cannot reach small p",
    ]
    if list(chosen_on_test):
        caveats.append(f"for {', '.join(chosen_on_test)} (no dev split) the layer was chosen on test: optimistic")
    lines.append("Caveats: " + "; ".join(caveats) + ".")
    return "\n\n".join(lines)
