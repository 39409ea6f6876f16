"""How good the labels are where the headline needs them: per speaker gender, and for movement and register.

- :func:`headline_ceilings`: per language, the reliability of the probed labels for the headline pair
  (movement: within-utterance r of semitones; register: r of utterance medians), estimated by Spearman's
  triad with three or more trackers, else the lowest between-tracker r; beside the headline values.
- :func:`gender_table`: per language, gender and pair of trackers involving the probed one: voicing
  agreement, gross and octave errors, median |difference| and bias in cents.
- :func:`gender_warnings`: the languages where one gender's labels disagree beyond
  :data:`WARN_GPE`, and what that does to that language's numbers.
- :func:`register_by_gender`: the register probe's r within each gender, beside its r over every speaker:
  a register r that is high overall but low within each gender reads the speakers' gender, not their F0.
- :func:`independence_check`: how often two trackers make the same octave error on the same frame, where
  the true F0 is known (the triad's assumption, checked).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pitchprobe.analysis.agreement import ALL, involving, reliability_table
from pitchprobe.analysis.stats import metrics_from, utterance_stats
from pitchprobe.core.layout import RunLayout
from pitchprobe.data.manifest import read_manifest
from pitchprobe.data.synth import true_f0_at
from pitchprobe.labels.agreement import GPE_RATIO, OCTAVE_CENTS, OCTAVE_TOL_CENTS
from pitchprobe.labels.store import read_labels
from pitchprobe.probe.results import ProbeResult

# Between-tracker gross pitch error (> 20 % apart) above which a gender's labels are flagged. On delay-free
# speech-like signals with known F0 each tracker errs that grossly on under 1 % of voiced frames
# (benchmarks/bench_trackers.py: pYAAPT 0.5 %, Praat and SwiftF0 0.0 %), so two trackers disagree grossly on
# at most about 1-2 %; 5 % means at least one of them fails on 2.5 % or more of that gender's frames, several
# times its rate on clean signals: low voices (pYAAPT's octave errors below about 100 Hz) or poor recordings.
WARN_GPE = 0.05
MIN_GENDER_UTTERANCES = 5  # test utterances a gender needs for its own register r (fewer: not computed)
HEADLINE_RELIABILITY = {"movement": "movement", "register": "register"}  # headline column: reliability name


def headline_ceilings(agreement: pd.DataFrame, probed: str) -> pd.DataFrame:
    """Per language (over every speaker): ``movement_ceiling`` and ``register_ceiling``, the estimated r of the
    probed labels with the truth (three or more trackers), else the lowest between-tracker r, and
    ``ceiling_kind`` saying which. Empty without agreement."""
    tab = reliability_table(agreement, probed)
    if tab.empty:
        return pd.DataFrame(columns=["code", "movement_ceiling", "register_ceiling", "ceiling_kind"])
    tab = tab[tab.probed & (tab.gender == ALL)]
    rows = []
    for _, r in tab.iterrows():
        row = {"code": r.code}
        estimated = all(pd.notna(r[f"{w}: estimated r"]) for w in HEADLINE_RELIABILITY.values())
        for col, what in HEADLINE_RELIABILITY.items():
            row[f"{col}_ceiling"] = r[f"{what}: estimated r"] if estimated else r[f"{what}: lowest between-tracker r"]
        row["ceiling_kind"] = "estimated (triad)" if estimated else "lowest between-tracker r"
        rows.append(row)
    return pd.DataFrame(rows)


def gender_table(agreement: pd.DataFrame, probed: str) -> pd.DataFrame:
    """Per language, gender and pair involving ``probed``: the label error measures of the report's gender
    section (the probed tracker as the reference where it is ``tracker_a``)."""
    if agreement.empty or "gender" not in agreement:
        return pd.DataFrame()
    sel = involving(agreement, probed)
    cols = ["code", "gender", "tracker_a", "tracker_b", "utterances", "voicing_agreement", "gpe", "octave_down",
            "octave_up", "mad_cents", "bias_cents", "r_movement", "r_register"]  # fmt: skip
    return sel[cols].round(3).reset_index(drop=True)


def gender_warnings(agreement: pd.DataFrame, probed: str, *, threshold: float = WARN_GPE) -> list[str]:
    """One sentence per language where, for some gender, the probed labels and another tracker's disagree grossly
    (more than 20 % apart) on more than ``threshold`` of the frames both call voiced."""
    tab = gender_table(agreement, probed)
    if tab.empty:
        return []
    out = []
    genders = tab[tab.gender != ALL]
    for code, g in genders.groupby("code"):
        bad = g[g.gpe > threshold]
        if bad.empty:
            continue
        worst = bad.loc[bad.gpe.idxmax()]
        octave = worst.octave_up + worst.octave_down
        others = ", ".join(sorted(set(bad.gender)))
        out.append(
            f"{code}: for {others} speakers the {probed} labels and {_other(worst, probed)} are more than "
            f"{GPE_RATIO:.0%} apart on {worst.gpe:.1%} of the frames both call voiced ({octave:.1%} an octave "
            f"apart; {worst.utterances} test utterances). At least one of the two is grossly wrong there, so this "
            "language's pooled r and register r rest partly on label errors of those speakers, and its movement "
            f"r for them is bounded by the labels' own (r_movement {worst.r_movement:.2f} between the two)."
        )
    return out


def _other(row, probed: str) -> str:
    return row.tracker_b if row.tracker_a == probed else row.tracker_a


def register_by_gender(run_dir: Path, root: Path, within: list[ProbeResult], headline: pd.DataFrame) -> pd.DataFrame:
    """Per model, language and gender (and ``all``): the register probe's r over that gender's test utterances,
    at the headline's register layer, from the per-utterance statistics kept with each within-language result.
    A gender with fewer than :data:`MIN_GENDER_UTTERANCES` test utterances gets no r (NaN)."""
    if headline.empty or "register_layer" not in headline:
        return pd.DataFrame()
    layer_of = {(r.model_tag, r.code): r.register_layer for r in headline.itertuples() if pd.notna(r.register_layer)}
    rows = []
    for res in within:
        layer = layer_of.get((res.tag, res.code))
        path = RunLayout(run_dir).within(res.tag, res.code).stats
        if layer is None or not path.is_file():
            continue
        stats = utterance_stats(path)
        gender = {r["id"]: r.get("gender") or "" for r in read_manifest(root, res.code, splits=("test",))}
        genders = np.array([gender.get(i, "") for i in stats.ids])
        for g in [ALL, *sorted(set(genders) - {""})]:
            member = np.ones(len(stats.ids)) if g == ALL else (genders == g).astype(np.float64)
            n = int(member.sum())
            r = metrics_from(stats.total(member[None, :]), "register", "r")[0, int(layer)] if n else np.nan
            rows.append({"model_tag": res.tag, "code": res.code, "gender": g, "utterances": n,
                         "register r": r if n >= MIN_GENDER_UTTERANCES or g == ALL else np.nan,
                         "layer": int(layer)})  # fmt: skip
    return pd.DataFrame(rows)


def independence_check(
    labels: dict[str, dict[str, np.ndarray]], truth: dict[str, dict[str, np.ndarray]]
) -> pd.DataFrame:
    """Where the true F0 is known: per pair of trackers, how often both make an octave error on the same frame
    (each within 100 cents of twice or half the truth), against what independent errors would give.

    Parameters
    ----------
    labels : dict
        ``{tracker: {id: (T,) labels, Hz, 0 = unvoiced}}``, frame ``k`` of every tracker the same frame.
    truth : dict
        ``{tracker: {id: (T,) true F0 where that tracker's frame k sits, Hz, 0 = unvoiced}}``.

    Returns
    -------
    pd.DataFrame
        ``tracker_a, tracker_b, frames, octave_a, octave_b, joint, expected`` (rates over the frames the truth
        and both trackers call voiced; ``expected = octave_a * octave_b``). ``joint`` well above ``expected``
        means the two share errors: the triad then overrates both and underrates the others.
    """
    names = list(labels)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            ea, eb = [], []
            for uid in sorted(set(labels[a]) & set(labels[b])):
                fa, fb, ta, tb = labels[a][uid], labels[b][uid], truth[a][uid], truth[b][uid]
                n = min(fa.size, fb.size, ta.size, tb.size)
                fa, fb, ta, tb = fa[:n], fb[:n], ta[:n], tb[:n]
                keep = (ta > 0) & (tb > 0) & (fa > 0) & (fb > 0)
                ea.append(_octave_off(fa[keep], ta[keep]))
                eb.append(_octave_off(fb[keep], tb[keep]))
            xa, xb = (np.concatenate(x) if x else np.zeros(0, dtype=bool) for x in (ea, eb))
            if xa.size == 0:
                continue
            rows.append({"tracker_a": a, "tracker_b": b, "frames": int(xa.size), "octave_a": float(xa.mean()),
                         "octave_b": float(xb.mean()), "joint": float((xa & xb).mean()),
                         "expected": float(xa.mean() * xb.mean())})  # fmt: skip
    return pd.DataFrame(rows)


def known_truth_check(root: Path, corpus: Path | None, codes: list[str], trackers: list[str]) -> pd.DataFrame:
    """:func:`independence_check` on the test split of ``codes``, where ``corpus`` holds the true F0 of every
    file (``truth/<code>/test/<id>.npy`` per sample, as :func:`pitchprobe.data.synth.write_corpus` writes);
    empty elsewhere (FLEURS has no true F0)."""
    if corpus is None or not (Path(corpus) / "truth").is_dir() or len(trackers) < 2:
        return pd.DataFrame()
    labels: dict[str, dict[str, np.ndarray]] = {t: {} for t in trackers}
    truth: dict[str, dict[str, np.ndarray]] = {t: {} for t in trackers}
    for code in codes:
        for t in trackers:
            for uid, lab in read_labels(root, code, "test", tracker=t).items():
                path = Path(corpus) / "truth" / code / "test" / f"{uid}.npy"
                if lab.status != "ok" or not path.is_file():
                    continue
                key = f"{code}/{uid}"
                centres = lab.first_centre_samples + lab.hop_samples * np.arange(lab.f0_hz.size)
                labels[t][key], truth[t][key] = lab.f0_hz, true_f0_at(np.load(path), centres)
    return independence_check(labels, truth)


def _octave_off(f0: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(n,) bool: within 100 cents of an octave above or below the truth."""
    cents = OCTAVE_CENTS * np.log2(f0 / truth)
    return np.abs(np.abs(cents) - OCTAVE_CENTS) < OCTAVE_TOL_CENTS


CEILING_TEXT = (
    " Labels' ceilings: how well the probed labels themselves follow movement (their within-utterance r of "
    "semitones) and register (their r of utterance medians) against the truth, estimated from the agreement of "
    "three or more trackers by Spearman's triad, else the lowest r between the probed tracker and another (a "
    "conservative reference). A probe that read the true F0 perfectly would reach about this against the labels; "
    "the triad assumes the trackers' errors independent (checked below where the true F0 is known)."
)
GENDER_TEXT = (
    "Per language and speaker gender (from the manifest; FLEURS records MALE, FEMALE or OTHER, and no speaker "
    "ids), the probed labels against each other tracker over the test frames: voicing agreement, gross pitch "
    "error (more than 20 % apart), octave down and up, median absolute difference and median signed difference "
    "(bias, the second tracker above the first) in cents, and the two trackers' agreement on movement "
    "(r_movement) and register (r_register). A gender is flagged where its gross pitch error exceeds "
    f"{WARN_GPE:.0%}: on delay-free speech-like signals each tracker errs that grossly on under 1 % of voiced "
    "frames, so more than 5 % means at least one of them fails on that gender's voices (pYAAPT's octave errors "
    "below about 100 Hz, for instance)."
)
REGISTER_GENDER_TEXT = (
    "The register probe's r (utterance medians, semitones) over each gender's test utterances, at the layer of "
    "the headline (its own best layer over every speaker). Over every speaker a register r can come from "
    "telling male voices from female ones; within one gender it can only come from F0. A gender with fewer than "
    f"{MIN_GENDER_UTTERANCES} test utterances gets none."
)
INDEPENDENCE_TEXT = (
    "Where the corpus knows the true F0 (the demo's and other synthetic corpora): per pair of trackers, the share "
    "of the frames that the truth and both trackers call voiced on which each tracker is an octave off the truth "
    "(octave_a, octave_b), both are (joint), and what independent errors would give (expected = octave_a × "
    "octave_b). A joint rate well above the expected one means the two share errors, which the triad's ceilings "
    "assume they do not."
)


def report_sections(
    *,
    run_dir: Path,
    root: Path,
    corpus: Path | None,
    agreement: pd.DataFrame,
    probed: str,
    within: list[ProbeResult],
    headline: pd.DataFrame,
    codes: list[str],
    trackers: list[str],
) -> tuple[list[tuple], dict[str, pd.DataFrame]]:
    """The report's sections on label quality by gender and the trackers' shared errors, and the tables to write
    (``register_by_gender.csv``, ``octave_independence.csv``), each only where it has rows."""
    sections, tables = [], {}
    gender = gender_table(agreement, probed)
    if not gender.empty and (gender.gender != ALL).any():
        warnings = gender_warnings(agreement, probed)
        text = GENDER_TEXT + (" Flagged: " + " ".join(warnings) if warnings else " No gender is flagged.")
        sections.append(("Label error by speaker gender", text, gender))
    register = register_by_gender(run_dir, root, within, headline)
    if not register.empty and (register.gender != ALL).any():
        tables["register_by_gender.csv"] = register
        sections.append(("Register within gender", REGISTER_GENDER_TEXT, register.round(3)))
    shared = known_truth_check(root, corpus, codes, trackers)
    if not shared.empty:
        tables["octave_independence.csv"] = shared
        sections.append(("Do the trackers share their errors?", INDEPENDENCE_TEXT, shared.round(4)))
    return sections, tables


__all__ = [
    "CEILING_TEXT",
    "MIN_GENDER_UTTERANCES",
    "WARN_GPE",
    "gender_table",
    "gender_warnings",
    "headline_ceilings",
    "independence_check",
    "known_truth_check",
    "report_sections",
    "register_by_gender",
]
