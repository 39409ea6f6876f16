"""``pitchprobe report RUN_DIR``: tables, statistics, figures and one self-contained report.

Writes, inside the run directory:

- ``tables/results.csv`` and ``tables/results.parquet``: the tidy table (:mod:`pitchprobe.analysis.aggregate`);
- ``tables/best_layers.csv``: best layer per language and model;
- ``tables/tests.json``: permutation tests between tone classes, between
  language groups, and of each language against the reference language;
- ``figures/*.png|svg``: (a)–(g) of :mod:`pitchprobe.analysis.figures`;
- ``report.html`` (figures embedded) and ``report.md`` (its Markdown twin).
"""

from __future__ import annotations

import base64
import html
import json
import shlex
from pathlib import Path

import numpy as np
import pandas as pd

from pitchprobe.analysis import figures
from pitchprobe.analysis.aggregate import best_layers, load_results, tidy_table, transfer_table, write_tables
from pitchprobe.analysis.stats import compare_languages, group_permutation_test, utterance_stats
from pitchprobe.core.atomic import atomic_path, write_json, write_text
from pitchprobe.core.layout import RunLayout
from pitchprobe.probe.results import ProbeResult, read_result
from pitchprobe.study.config import StudyConfig, load_config, study_command, units_of

TARGET, METRIC = "f0_voiced", "r"  # the headline: Pearson r of the voiced-F0 probe


def _reference(codes: list[str], train_langs: list[str]) -> str | None:
    for c in ("en_us", *train_langs, *sorted(codes)):
        if c in codes:
            return c
    return None


def run_tests(run_dir: Path, df: pd.DataFrame, *, permutations: int, seed: int, train_langs=()) -> dict:
    """Tone-class and group tests on best-layer values, and each language against the reference language."""
    best = best_layers(df[df.kind == "within"], target=TARGET, metric=METRIC)
    out = {"target": TARGET, "metric": METRIC, "tone_class": {}, "lang_group": {}, "vs_reference": {}}
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
                target=TARGET,
                metric=METRIC,
                n_perm=permutations,
                seed=seed,
            )
        out["vs_reference"][tag] = {"reference": ref, "languages": comps}
    return out


def _md_table(df: pd.DataFrame) -> str:
    def cell(x):
        if isinstance(x, float):
            return "" if np.isnan(x) else f"{x:.4g}"
        return str(x)

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _data_table(within: list[ProbeResult]) -> pd.DataFrame:
    rows = {}
    for res in within:
        lang, c = res.language, res.counts
        if lang["code"] in rows:
            continue
        rows[lang["code"]] = {
            "code": lang["code"],
            "lang_id": lang.get("lang_id"),
            "language": lang.get("language"),
            "group": lang.get("lang_group"),
            "tone class": lang.get("tone_class"),
            "hours": round(sum(c[s].audio_seconds for s in c) / 3600, 3),
            **{f"{s} utt": c[s].utterances for s in ("train", "dev", "test")},
            "failed": sum(c[s].failed for s in c),
            "dropped frames": sum(c[s].dropped_frames for s in c),
        }
    return pd.DataFrame(list(rows.values()))


def _models_table(within: list[ProbeResult]) -> tuple[pd.DataFrame, dict]:
    rows, software = {}, {}
    for res in within:
        m = res.model
        software = res.software or software
        rows[res.tag] = {
            "model": res.tag,
            "name": m["name"],
            "backend": m["backend"],
            "random init": m["random_init"],
            "layers": m["num_layers"],
            "hop (samples)": m["hop_samples"],
            "first frame centre (samples)": m["first_centre_samples"],
            "device": m["device"],
        }
    return pd.DataFrame(list(rows.values())), software


def _pooled_text(layout: RunLayout, tags: list[str]) -> str:
    """What the pooled probes were fitted on, and the disk their sums took, per model (empty without them)."""
    parts = []
    for tag in tags:
        path = layout.pool_record(tag)
        if path.is_file():
            rec = json.loads(path.read_text())
            left = f", leaving out {', '.join(rec['excluded'])} (no fit)" if rec["excluded"] else ""
            parts.append(
                f"{tag}: {len(rec['languages'])} languages{left}, sums {rec['sums_bytes'] / 1e6:.0f} MB in all "
                f"({rec['sums_bytes'] / 1e6 / max(len(rec['languages']), 1):.1f} MB per language)"
            )
    if not parts:
        return ""
    return (
        " Pooled probes: fitted on the sum of every study language's train sums (alpha on the pooled dev sums); "
        "the probe that leaves a language out on the pooled sums minus its own. " + "; ".join(parts) + "."
    )


def _commands(run_dir: Path, within: list[ProbeResult]) -> list[str]:
    layout = RunLayout(run_dir)
    if not layout.config.is_file():
        cmds = {" ".join(res.command) for res in within}
        return sorted(cmds) + [f"pitchprobe report {shlex.quote(str(run_dir))}"]
    cfg = load_config(run_dir)
    return [study_command(cfg), f"pitchprobe report {shlex.quote(str(layout.root))}"]


def _figures(run_dir: Path, df: pd.DataFrame, fig_dir: Path, tests: dict) -> list[tuple[str, Path]]:
    figs = [("(a) Best layer per language", figures.best_layer_per_language(df, fig_dir))]
    figs += [("(b) Every layer across languages", p) for p in figures.layers_by_language(df, fig_dir)]
    figs.append(("(c) By language group", figures.by_group(df, fig_dir, tests=tests["lang_group"])))
    figs.append(("(d) By tone class", figures.by_tone_class(df, fig_dir, tests=tests["tone_class"])))
    figs.append(("(e) Models compared layer by layer", figures.models_by_layer(df, fig_dir)))
    tr = figures.transfer(df, fig_dir)
    if tr is not None:
        figs.append(("(f) Cross-lingual transfer", tr))
    ex = figures.contour_examples(run_dir, df, fig_dir)
    if ex is not None:
        figs.append(("(g) Data examples", ex))
    return figs


def study_results(run_dir: Path, cfg: StudyConfig) -> tuple[list[tuple[str, ProbeResult]], list[Path]]:
    """The results of ``cfg``'s units that exist, and the result files in ``run_dir`` that are none of them.

    Leftovers (a model or language dropped from the study, a tag that changed
    with ``--seed`` or ``--s3prl-ckpt``) are listed, never read into the report.
    """
    from pitchprobe.study.config import SCORE
    from pitchprobe.study.units import score_outputs

    layout = RunLayout(run_dir)
    wanted = {}
    for unit in units_of(cfg):
        if unit.kind != SCORE:
            continue
        for train, files in score_outputs(cfg, unit).items():
            rel = files.json.relative_to(cfg.run_dir)
            wanted[rel] = "within" if train == unit.code else "transfer"
    out, leftovers = [], []
    for _, path in layout.result_jsons():
        kind = wanted.get(path.relative_to(layout.root))
        if kind is None:
            leftovers.append(path)
        else:
            out.append((kind, read_result(path)))
    return out, leftovers


def make_report(
    run_dir: Path,
    *,
    bootstrap: int | None = None,
    permutations: int | None = None,
    seed: int | None = None,
    summary=None,
) -> Path:
    """Write tables, tests, figures, ``report.html`` and ``report.md`` for the results in ``run_dir``.

    ``bootstrap``, ``permutations`` and ``seed`` default to the study's own
    (``config.json``), else to :class:`~pitchprobe.study.config.StudyConfig`'s defaults.
    With a ``config.json``, only the results of the study's units are reported.
    """
    from pitchprobe.data.languages import load_table

    run_dir = Path(run_dir)
    layout = RunLayout(run_dir)
    cfg = load_config(run_dir) if layout.config.is_file() else None
    stats_from = cfg or StudyConfig()
    bootstrap = stats_from.bootstrap if bootstrap is None else bootstrap
    permutations = stats_from.permutations if permutations is None else permutations
    seed = stats_from.seed if seed is None else seed
    table = load_table(cfg.languages_table if cfg else None)
    results, leftovers = study_results(run_dir, cfg) if cfg else (load_results(run_dir), [])
    within = [res for kind, res in results if kind == "within"]
    df = tidy_table(run_dir, table=table, n_boot=bootstrap, seed=seed, results=results)
    write_tables(df, layout.tables)
    if df.empty:
        write_text(layout.report_md, "# pitchprobe study\n\nNo results yet.\n")
        return layout.report_md
    best = best_layers(df[df.kind == "within"], target=TARGET, metric=METRIC)
    cols = [
        "model_tag",
        "code",
        "language",
        "tone_class",
        "layer",
        "value",
        "ci_low",
        "ci_high",
        "n_utterances",
        "n_frames",
        "chosen_on",
    ]
    best_tab = best[cols].sort_values(["model_tag", "value"], ascending=[True, False])
    with atomic_path(layout.tables / "best_layers.csv") as tmp:
        best_tab.to_csv(tmp, index=False)
    transfer_tab = transfer_table(df, target=TARGET, metric=METRIC)
    transfer_tab = transfer_tab[transfer_tab[["pooled", "others", "single_mean"]].notna().any(axis=1)]
    if not transfer_tab.empty:
        with atomic_path(layout.tables / "transfer.csv") as tmp:
            transfer_tab.to_csv(tmp, index=False)
    tests = run_tests(run_dir, df, permutations=permutations, seed=seed, train_langs=cfg.train_langs if cfg else [])
    write_json(layout.tables / "tests.json", tests)

    fig_dir = layout.figures
    figs = _figures(run_dir, df, fig_dir, tests) if not best.empty else []
    data_tab = _data_table(within)
    models_tab, software = _models_table(within)
    first = within[0] if within else results[0][1]
    test_rows = []
    for kind in ("tone_class", "lang_group"):
        for tag, t in tests[kind].items():
            groups = "; ".join(f"{g}: n={v['n']}, mean={v['mean']:.3f}" for g, v in t["groups"].items())
            test_rows.append({"model": tag, "between": kind, "F": t["statistic"], "p": t["p_value"], "groups": groups})
    tests_tab = pd.DataFrame(test_rows)
    ref_rows = [
        {
            "model": tag,
            "language": c,
            "reference": v["reference"],
            "difference in r": d["difference"],
            "p": d["p_value"],
        }
        for tag, v in tests["vs_reference"].items()
        for c, d in v["languages"].items()
    ]
    ref_tab = pd.DataFrame(ref_rows)
    labels = first.labels
    on_test = sorted(set(best.code[best.chosen_on == "test"]))
    if on_test:
        chosen = (
            f"Best layer: lowest dev MSE, except for {', '.join(on_test)}, which have no dev split: there the "
            "best layer was chosen on the test split, so its test value is optimistic."
        )
        best_title = "Best layer per language (lowest dev MSE; chosen on TEST where there is no dev split)"
    else:
        chosen = "Best layer: lowest dev MSE of the voiced-F0 probe (the test split is not used to choose it)."
        best_title = "Best layer per language (lowest dev MSE; r and 95 % interval on test)"
    alpha = first.probe.get("alpha")
    sections = [
        (
            "The question",
            "How much pitch (F0) information does each layer of each model hold, per language? Do models pretrained "
            "on English keep it for other languages, tonal ones especially? How do they compare with fbank and with "
            "their own untrained (random-init) copies?",
        ),
        ("Data", None, data_tab),
        ("Models", None, models_tab),
        (
            "Method",
            f"Labels: pYAAPT (amfm_decompy) `.samp_values`, frame length {labels['frame_length_ms']} ms, hop "
            f"{labels['frame_space_ms']} ms, F0 range {labels['f0_min_hz']}–{labels['f0_max_hz']} Hz; label frame k "
            f"centred at sample {labels['first_centre_samples']} + {labels['hop_samples']}k. "
            "Alignment: each label frame takes the real model frame with the nearest centre and is dropped when none "
            "lies within half a model hop. Probe: ridge regression with intercept per layer, fitted from streaming "
            "float64 sums on the train split; alpha chosen per layer and target on the dev split from a grid "
            f"(0 and trace(C)/D·10^k, k=−6…2) unless fixed (here: {alpha}); dev MSE is computed either way. "
            "Every utterance went through each model once: one pass over a language's train and dev splits "
            "fitted its probes (and kept its sums for the pooled probes), one pass over its test split scored "
            f"every probe that applies to it. {chosen} Headline metric: Pearson r of the voiced-F0 probe on the "
            f"test split, with {bootstrap}-sample bootstrap 95 % intervals over test utterances; group differences by "
            f"permutation tests ({permutations} permutations, seed {seed})."
            + _pooled_text(layout, sorted({r.tag for r in within})),
        ),
        (best_title, None, best_tab),
        ("Statistical tests", None, tests_tab),
        *(
            [
                (
                    "Cross-lingual transfer",
                    "Pearson r of the voiced-F0 probe on each test language, each probe at its own best layer "
                    "(lowest dev MSE): its own (within); pooled, fitted on every study language's train split; "
                    "others, fitted on every study language but this one (zero-shot, with the most data the study "
                    "has); and the mean over probes fitted on single train languages (--train-lang).",
                    transfer_tab,
                )
            ]
            if not transfer_tab.empty
            else []
        ),
        ("Each language against the reference", None, ref_tab),
        ("Figures", "figs"),
        ("Software", None, pd.DataFrame([{"package": k, "version": v} for k, v in software.items()])),
        ("Reproduce", "cmds"),
    ]
    if summary is not None:
        sections.insert(1, ("Run summary", summary.text()))
    if leftovers:
        names = ", ".join(str(p.relative_to(layout.root)) for p in leftovers[:20])
        more = f" and {len(leftovers) - 20} more" if len(leftovers) > 20 else ""
        sections.insert(1, ("Not reported", f"Results of no unit of this study (left out): {names}{more}."))
    cmds = _commands(run_dir, within)
    _write_markdown(layout, sections, figs, cmds)
    return _write_html(layout, sections, figs, cmds)


def _write_markdown(layout: RunLayout, sections, figs, cmds) -> None:
    out = ["# pitchprobe study", ""]
    for sec in sections:
        out += [f"## {sec[0]}", ""]
        if len(sec) == 3:
            out += [_md_table(sec[2]) if not sec[2].empty else "(none)", ""]
        elif sec[1] == "figs":
            for title, p in figs:
                out += [f"### {title}", "", f"![{title}]({p.relative_to(layout.root).as_posix()})", ""]
        elif sec[1] == "cmds":
            out += ["```bash", *cmds, "```", ""]
        else:
            out += [sec[1], ""]
    write_text(layout.report_md, "\n".join(out))


def _write_html(layout: RunLayout, sections, figs, cmds) -> Path:
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;font-size:.85em;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .5em}"
        "th{background:#eef}img{max-width:100%;border:1px solid #eee}pre{background:#f6f6f6;padding:1em;overflow:auto}"
    )
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>pitchprobe study</title><style>{style}</style>"]
    out.append("</head><body><h1>pitchprobe study</h1>")
    for sec in sections:
        out.append(f"<h2>{html.escape(sec[0])}</h2>")
        if len(sec) == 3:
            out.append(
                sec[2].to_html(index=False, float_format=lambda x: f"{x:.4g}", na_rep="")
                if not sec[2].empty
                else "<p>(none)</p>"
            )
        elif sec[1] == "figs":
            for title, p in figs:
                data = base64.b64encode(p.read_bytes()).decode("ascii")
                out.append(
                    f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>"
                )
        elif sec[1] == "cmds":
            out.append("<pre>" + html.escape("\n".join(cmds)) + "</pre>")
        else:
            out.append("<p>" + html.escape(sec[1]).replace("\n", "<br>") + "</p>")
    out.append("</body></html>")
    path = layout.report_html
    write_text(path, "\n".join(out))
    return path
