"""``pitchprobe report RUN_DIR``: tables, statistics, figures and one self-contained report.

Writes, inside the run directory:

- ``tables/results.csv`` and ``tables/results.parquet``: the tidy table (:mod:`pitchprobe.analysis.aggregate`);
- ``tables/best_layers.csv``: best layer per language and model;
- ``tables/tests.json``: permutation tests between tone classes, between
  language groups (groups of at least two languages), and of each language against the reference language;
- ``tables/transfer.csv`` and ``tables/transfer_movement.csv``: transfer of the headline measure and of movement;
- ``figures/*.png|svg``: (a)–(e) and (h) of :mod:`pitchprobe.analysis.figures`, (f) of
  :mod:`pitchprobe.analysis.transfer_figure`, (g) of :mod:`pitchprobe.analysis.examples_figure`;
- the report opens with its findings (:mod:`pitchprobe.analysis.findings`);
- ``report.html`` (figures embedded) and ``report.md`` (its Markdown twin).

In a study's run directory only the results current for its configuration are read; the others are
listed under "Not reported" (:mod:`pitchprobe.analysis.reported`). Tables and figures a report no
longer makes are deleted, so none is left from an earlier one.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pitchprobe.analysis import agreement, examples_figure, figures, label_quality, transfer_figure
from pitchprobe.analysis import labels as labels_report
from pitchprobe.analysis.aggregate import (
    best_layers,
    detail_table,
    headline_table,
    tidy_table,
    transfer_table,
    write_tables,
)
from pitchprobe.analysis.compare import METRIC, TARGET, group_tests_table, reference_table, run_tests
from pitchprobe.analysis.findings import MIN_GROUP, MOVEMENT, findings_text
from pitchprobe.analysis.render import write_html, write_markdown
from pitchprobe.analysis.reported import Reported, not_reported_table, not_reported_text, pool_records, reported_results
from pitchprobe.analysis.tables import data_table, models_table, pooled_text
from pitchprobe.core.atomic import atomic_path, write_json
from pitchprobe.core.layout import RunLayout
from pitchprobe.probe.results import ProbeResult
from pitchprobe.study.config import StudyConfig, study_command

if TYPE_CHECKING:
    from pitchprobe.study.run import StudySummary


def _commands(run_dir: Path, cfg: StudyConfig | None, within: list[ProbeResult]) -> list[str]:
    if cfg is None:
        cmds = {" ".join(res.command) for res in within}
        return sorted(cmds) + [f"pitchprobe report {shlex.quote(str(run_dir))}"]
    return [study_command(cfg), f"pitchprobe report {shlex.quote(str(RunLayout(run_dir).root))}"]


MOVEMENT_WHAT = "movement: within-utterance r of st_utt"
TABLES = ("results.csv", "results.parquet", "best_layers.csv", "transfer.csv", "tests.json", "headline.csv")
TABLES += ("transfer_movement.csv", "detail.csv", "agreement.csv", "register_by_gender.csv", "octave_independence.csv")


def _delete_unwritten(layout: RunLayout, written: set[Path]) -> None:
    """Delete the report's tables and figures that this report did not write (left by an earlier one)."""
    old = [layout.tables / name for name in TABLES]
    old += [p for ext in ("png", "svg") for p in layout.figures.glob(f"*.{ext}")] if layout.figures.is_dir() else []
    for path in old:
        if path not in written:
            path.unlink(missing_ok=True)


def _not_reported(reported: Reported) -> list[tuple]:
    """The report's "Not reported" section (none when nothing is left out)."""
    text, table = not_reported_text(reported), not_reported_table(reported)
    if text is None:
        return []
    return [("Not reported", text, table)] if not table.empty else [("Not reported", text)]


def _figures(
    run_dir: Path,
    df: pd.DataFrame,
    fig_dir: Path,
    tests: dict,
    *,
    target: str,
    metric: str,
    ceiling: dict,
    estimated: dict,
    labels: str,
    corpus: Path | None,
) -> list[tuple[str, Path]]:
    kw = {"target": target, "metric": metric}
    a = figures.best_layer_per_language(df, fig_dir, ceiling=ceiling, estimated=estimated, **kw)
    drawn = ", with the between-tracker r (a reference)" if ceiling else ""
    drawn += " and the labels' estimated r with the true F0 (the ceiling, diamonds)" if estimated else ""
    figs = [("(a) Best layer per language" + drawn, a)]
    figs += [
        (f"(b) {tag}: every layer across languages", p) for tag, p in figures.layers_by_language(df, fig_dir, **kw)
    ]
    figs.append(("(c) By language group", figures.by_group(df, fig_dir, tests=tests["lang_group"], **kw)))
    figs.append(("(d) By tone class", figures.by_tone_class(df, fig_dir, tests=tests["tone_class"], **kw)))
    figs.append(("(e) Models compared layer by layer", figures.models_by_layer(df, fig_dir, **kw)))
    tr = transfer_figure.transfer(df, fig_dir, **kw)
    if tr is not None:
        figs.append((f"(f) Cross-lingual transfer: {metric} of the {target} probe", tr))
    if (target, metric) != MOVEMENT:
        mv = transfer_figure.transfer(
            df, fig_dir, target=MOVEMENT[0], metric=MOVEMENT[1], name="f_transfer_movement", what=MOVEMENT_WHAT
        )
        if mv is not None:
            figs.append(("(f) Cross-lingual transfer of movement (within-utterance r of st_utt)", mv))
    ex = examples_figure.contour_examples(run_dir, df, fig_dir, labels=labels, corpus=corpus)
    if ex is not None:
        figs.append(("(g) Data examples", ex))
    mr = figures.movement_register(headline_table(df), fig_dir)
    if mr is not None:
        figs.append(("(h) Movement against register", mr))
    return figs


def make_report(
    run_dir: Path,
    *,
    bootstrap: int | None = None,
    permutations: int | None = None,
    seed: int | None = None,
    summary: StudySummary | None = None,
) -> Path:
    """Write tables, tests, figures, ``report.html`` and ``report.md`` for the results in ``run_dir``; return
    the path of ``report.html``.

    ``bootstrap``, ``permutations`` and ``seed`` default to the study's own
    (``config.json``), else to :class:`~pitchprobe.study.config.StudyConfig`'s defaults.
    With a ``config.json``, only the results current for the study's configuration are reported; the others
    are named under "Not reported". ``summary``: the study run just now, whose summary the report opens with
    (its ``report`` is set to the path written).
    """
    from pitchprobe.data.languages import load_table

    run_dir = Path(run_dir)
    layout = RunLayout(run_dir)
    reported = reported_results(run_dir)
    cfg = reported.config
    stats_from = cfg or StudyConfig()
    bootstrap = stats_from.bootstrap if bootstrap is None else bootstrap
    permutations = stats_from.permutations if permutations is None else permutations
    seed = stats_from.seed if seed is None else seed
    table = load_table(cfg.languages_table if cfg else None)
    results, within = reported.results, reported.within
    df = tidy_table(run_dir, table=table, n_boot=bootstrap, seed=seed, results=results)
    written = set(write_tables(df, layout.tables))
    if df.empty:
        sections = [*_not_reported(reported), ("Results", "No current results yet.")]
        if summary is not None:
            sections.insert(0, ("Run summary", summary.text()))
        _delete_unwritten(layout, written)
        return _write_report(layout, sections, [], _commands(run_dir, cfg, within), summary)
    target, metric = cfg.headline if cfg else (TARGET, METRIC)
    best = best_layers(df[df.kind == "within"], target=target, metric=metric)
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
    written |= {layout.tables / name for name in ("best_layers.csv", "tests.json", "headline.csv", "detail.csv")}
    transfers = {}  # the headline measure's transfer, and movement's (within-utterance r of st_utt)
    for name, (t, m) in (("transfer.csv", (target, metric)), ("transfer_movement.csv", MOVEMENT)):
        tab = transfer_table(df, target=t, metric=m)
        transfers[name] = tab = tab[tab[["pooled", "others", "single_mean"]].notna().any(axis=1)]
        if not tab.empty and (name == "transfer.csv" or (t, m) != (target, metric)):
            with atomic_path(layout.tables / name) as tmp:
                tab.to_csv(tmp, index=False)
            written.add(layout.tables / name)
    transfer_tab, movement_tab = transfers["transfer.csv"], transfers["transfer_movement.csv"]
    if (target, metric) == MOVEMENT:
        movement_tab = movement_tab.iloc[:0]
    tests = run_tests(
        run_dir,
        df,
        permutations=permutations,
        seed=seed,
        train_langs=cfg.train_langs if cfg else [],
        target=target,
        metric=metric,
    )
    write_json(layout.tables / "tests.json", tests)
    codes, trackers = sorted(set(df.code)), list(cfg.trackers) if cfg else []
    agreement_tab = agreement.agreement_table(Path(cfg.data_dir), codes, trackers) if cfg else pd.DataFrame()
    first = within[0] if within else results[0][1]
    labels = first.labels
    source = labels.get("tracker", "pyaapt")
    ceilings = label_quality.headline_ceilings(agreement_tab, source)
    headline_tab, detail_tab = headline_table(df), detail_table(df)
    if "code" in headline_tab and not ceilings.empty:  # the labels' ceilings beside the headline values
        headline_tab = headline_tab.merge(ceilings, on="code", how="left")
    quality, quality_tabs = label_quality.report_sections(
        run_dir=run_dir, root=Path(cfg.data_dir) if cfg else run_dir, corpus=Path(cfg.source) if cfg and cfg.source
        else None, agreement=agreement_tab, probed=source, within=within, headline=headline_tab, codes=codes,
        trackers=trackers,
    )  # fmt: skip
    tables = {"headline.csv": headline_tab, "detail.csv": detail_tab, **quality_tabs}
    if not agreement_tab.empty:
        tables["agreement.csv"] = agreement_tab
    for name, tab in tables.items():
        with atomic_path(layout.tables / name) as tmp:
            tab.to_csv(tmp, index=False)
        written.add(layout.tables / name)
    timed = [*trackers, labels["tracker"]] if labels.get("sources") else trackers  # a consensus: its own offset
    timing_tab = labels_report.timing_table(Path(cfg.data_dir), codes, timed) if cfg else pd.DataFrame()
    frames_tab = labels_report.frames_table(within)
    placed = labels_report.placed_offsets(Path(cfg.data_dir), codes, labels["tracker"]) if cfg else []

    fig_dir = layout.figures
    reliability_tab = agreement.reliability_table(agreement_tab, source)
    on_figure = (target, metric) == (TARGET, METRIC)
    ceil = agreement.ceiling(agreement_tab, source) if on_figure else {}
    estimated = agreement.reliability(agreement_tab, source) if on_figure else {}
    kw = {"target": target, "metric": metric, "ceiling": ceil, "estimated": estimated, "labels": source}
    kw["corpus"] = Path(cfg.source) if cfg and cfg.source else None
    figs = _figures(run_dir, df, fig_dir, tests, **kw) if not best.empty and within else []
    data_tab = data_table(within)
    models_tab, software = models_table(within, layout)
    tests_tab, ref_tab = group_tests_table(tests), reference_table(tests, metric)
    on_test = sorted(set(best.code[best.chosen_on == "test"]))
    if on_test:
        chosen = (
            f"Best layer: lowest dev MSE, except for {', '.join(on_test)}, which have no dev split: there the "
            "best layer was chosen on the test split, so its test value is optimistic."
        )
        best_title = "Best layer per language (lowest dev MSE; chosen on TEST where there is no dev split)"
    else:
        chosen = (
            f"Best layer: lowest dev MSE of the {target} probe (the test split is not used to choose it); each "
            "other target's best layer is that of its own probe."
        )
        best_title = f"Best layer per language (lowest dev MSE; {metric} and 95 % interval on test)"
    alpha = first.probe.get("alpha")
    headline = (
        "log-F0 MSE of the log-F0 probe on voiced frames (SUPERB-prosody's pitch_libritts metric; lower is better)"
        if (target, metric) == ("logf0_voiced", "mse_log")
        else "Pearson r of the voiced-F0 probe (pooled over test frames)"
    )
    findings = findings_text(
        df, tests, {f"{metric} of {target}": transfer_tab, "movement": movement_tab}, target=target, metric=metric,
        chosen_on_test=on_test,
    )  # fmt: skip
    sections = [
        ("Findings", findings),
        (
            "The question",
            "How much pitch (F0) information does each layer of each model hold, per language? Do models pretrained "
            "on English keep it for other languages, tonal ones especially? How do they compare with fbank and with "
            "their own untrained (random-init) copies?",
        ),
        (
            "Headline: movement and register",
            labels_report.READING_TEXT
            + f" The labels probed here are {source}'s (see Method)."
            + (label_quality.CEILING_TEXT if not ceilings.empty else ""),
            labels_report.headline_view(headline_tab),
        ),
        (
            "Voicing and error size",
            "Per language, each at its own probe's best layer (lowest dev MSE): the voicing probe's balanced "
            "accuracy at its dev threshold and ROC AUC (from score histograms: no bootstrap interval), and the "
            "voiced-F0 probe's RMSE in cents beside that of predicting the train split's mean F0 (the floor).",
            labels_report.detail_view(detail_tab),
        ),
        ("Data", None, data_tab),
        (
            "Models",
            "First frame centre: the middle of the first window (plus the measured offset where it exceeds 1 ms). "
            "Measured offset: where frame k of the first layer really sits, from the centroid of its response to "
            "clicks in noise (pitchprobe.models.calibrate); the span holding 90 % of that response beside it.",
            models_tab,
        ),
        (
            "Method",
            labels_report.labels_text(labels, trackers, timing_tab)
            + labels_report.offset_effect(labels, models_tab, placed=placed)
            + "\n\nAlignment: each label frame takes the real model frame with the nearest centre and is dropped "
            "when none lies within half a model hop. Probe: ridge regression with intercept per layer and target, "
            "fitted from streaming float64 sums on the train split; alpha chosen per layer and target on the dev "
            f"split from a grid (0 and trace(C)/D·10^k, k=−6…2) unless fixed (here: {alpha}); dev MSE is computed "
            "either way. Every utterance went through each model once: one pass over a language's train and dev "
            "splits fitted its probes (and kept its sums for the pooled probes), one pass over its test split scored "
            f"every probe that applies to it. {chosen}\n\n" + labels_report.TARGETS_TEXT + f"\n\nTables below: "
            f"{headline}, on the test split, with {bootstrap}-sample bootstrap 95 % intervals over test utterances; "
            f"group differences by permutation tests ({permutations} permutations, seed {seed})."
            + pooled_text(pool_records(reported)),
        ),
        ("Pitch trackers: licences and measured timing", labels_report.TIMING_TEXT, timing_tab),
        *(
            [
                (
                    "Tracker agreement",
                    agreement.agreement_text(source, drawn=bool(ceil), estimated=bool(estimated)),
                    agreement_tab,
                ),
                (
                    "Label reliability",
                    "Per language, speaker gender and tracker, for pooled F0, movement (within-utterance r of "
                    "semitones) and register (r of utterance medians): the lowest r between it and another "
                    "tracker, and its estimated r with the truth (Spearman's triad, three or more trackers); "
                    "probed: the labels the probes were fitted on.",
                    reliability_tab,
                ),
            ]
            if not agreement_tab.empty
            else []
        ),
        *quality,
        (
            "Frames used",
            "Label frames the probes were fitted and scored on (all splits), and those masked.",
            frames_tab,
        ),
        (best_title, None, best_tab),
        (
            "Statistical tests",
            f"Permutation tests (F, {permutations} permutations) of the best-layer values between tone classes and "
            f"between language groups. A group of fewer than {MIN_GROUP} languages is left out of its test; with fewer "
            "than two groups left there is no test, and F and p are blank (the note says why).",
            tests_tab,
        ),
        *[
            (
                title,
                f"{m} of the {t} probe on each test language, each probe at its own best layer (lowest dev MSE): its "
                "own (within); pooled, fitted on every study language's train split; others, fitted on every study "
                "language but this one (zero-shot, with the most data the study has); and the mean over probes "
                "fitted on single train languages (--train-lang).",
                tab,
            )
            for title, (t, m), tab in (
                ("Cross-lingual transfer", (target, metric), transfer_tab),
                ("Cross-lingual transfer of movement", MOVEMENT, movement_tab),
            )
            if not tab.empty
        ],
        ("Each language against the reference", None, ref_tab),
        ("Figures", "figs"),
        ("Software", None, pd.DataFrame([{"package": k, "version": v} for k, v in software.items()])),
        ("Reproduce", "cmds"),
    ]
    if summary is not None:
        sections.insert(2, ("Run summary", summary.text()))
    sections[2:2] = _not_reported(reported)
    written |= {p.with_suffix(ext) for _, p in figs for ext in (".png", ".svg")}
    _delete_unwritten(layout, written)
    return _write_report(layout, sections, figs, _commands(run_dir, cfg, within), summary)


def _write_report(layout: RunLayout, sections: list, figs: list, cmds: list[str], summary) -> Path:
    write_markdown(layout, sections, figs, cmds)
    path = write_html(layout, sections, figs, cmds)
    if summary is not None:
        summary.report = path
    return path
