"""How far the pitch trackers agree, per language, and what that bounds: the report's agreement tables.

- :func:`agreement_table`: per language and ordered pair of trackers, over the test split's frames,
  the agreement metrics of :func:`pitchprobe.labels.agreement.pair_agreement`, from the labels stored
  in the data root (``tables/agreement.csv``). The table covers every label frame of the test utterances
  that all trackers labelled.
- :func:`ceiling` and :func:`reliability`: per language, the between-tracker r of the probed tracker, and
  (with three or more trackers) the estimated r of its labels with the true F0, the ceiling itself;
  :func:`reliability_table` both for every tracker, :func:`agreement_text` what the report says of them.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from pitchprobe.labels.agreement import agreement_rows
from pitchprobe.labels.store import read_labels
from pitchprobe.labels.trackers import same_method

AGREEMENT_SPLIT = "test"  # the split the agreement is measured on: the one the probes are scored on
AGREEMENT_COLUMNS = [
    "code",
    "tracker_a",
    "tracker_b",
    "utterances",
    "frames",
    "voicing_agreement",
    "gpe",
    "octave_down",
    "octave_up",
    "mad_cents",
    "bias_cents",
    "r",
    "r_log",
    "length_mismatch_frames",  # frames one tracker has beyond the other's (0 when all label the same grid)
]


def agreement_table(root: Path, codes: list[str], trackers: list[str]) -> pd.DataFrame:
    """Agreement of every ordered pair of ``trackers`` (the first is each pair's reference) per language,
    over the test utterances every tracker labelled; empty with fewer than two trackers."""
    rows = []
    if len(trackers) < 2:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    for code in codes:
        by_tracker = {t: read_labels(root, code, AGREEMENT_SPLIT, tracker=t) for t in trackers}
        ids = sorted(
            set.intersection(*({i for i, lab in labs.items() if lab.status == "ok"} for labs in by_tracker.values()))
        )
        if not ids:
            continue
        labels = {t: [by_tracker[t][i].f0_hz for i in ids] for t in trackers}
        for row in agreement_rows(labels):
            rows.append({"code": code, "utterances": len(ids), **row})
    return pd.DataFrame(rows).reindex(columns=AGREEMENT_COLUMNS) if rows else pd.DataFrame(columns=AGREEMENT_COLUMNS)


def ceiling(agreement: pd.DataFrame, tracker: str) -> dict[str, float]:
    """``{code: r}``: the lowest between-tracker r involving ``tracker`` (the labels the probe was fitted on)."""
    if agreement.empty:
        return {}
    sel = agreement[(agreement.tracker_a == tracker) | (agreement.tracker_b == tracker)]
    return {code: float(g.r.min()) for code, g in sel.groupby("code")}


def reliability(agreement: pd.DataFrame, tracker: str) -> dict[str, float]:
    """``{code: r}``: the estimated correlation of ``tracker``'s labels with the true F0, from three or more trackers.

    Where each tracker's errors are independent of the F0 and of the others', ``r(A, B) = r(T, A) r(T, B)``
    for trackers A, B and the true F0 T, so ``r(T, A) = sqrt(r(A, B) r(A, C) / r(B, C))`` (Spearman's
    attenuation triad); averaged over the pairs (B, C) of the other trackers and capped at 1 (a triad with two
    variants of one tracker, ``pyaapt`` and ``pyaapt-fixed``, is left out: their errors are shared). That is the r
    against A's labels of a probe that read the true F0 perfectly: the ceiling itself, which the
    between-tracker r (:func:`ceiling`) underestimates by the other tracker's own errors. Each pair's r is
    taken on the frames both of its trackers call voiced, so the estimate is approximate.
    """
    out = {}
    for code, g in agreement.groupby("code"):
        r = {frozenset((a, b)): v for a, b, v in zip(g.tracker_a, g.tracker_b, g.r)}
        others = sorted({*g.tracker_a, *g.tracker_b} - {tracker})
        estimates = []
        for b, c in itertools.combinations(others, 2):
            if any(same_method(x, y) for x, y in ((tracker, b), (tracker, c), (b, c))):
                continue  # pyaapt and pyaapt-fixed share their errors: no triad of independent trackers
            ab, ac, bc = (r.get(frozenset(pair), np.nan) for pair in ((tracker, b), (tracker, c), (b, c)))
            if ab > 0 and ac > 0 and bc > 0:  # NaN compares False: a pair with no r gives no estimate
                estimates.append(min(1.0, float(np.sqrt(ab * ac / bc))))
        if estimates:
            out[code] = float(np.mean(estimates))
    return out


def agreement_text(tracker: str, *, drawn: bool, estimated: bool) -> str:
    """What the agreement table holds and how its r bounds a probe's; ``drawn``: figure (a) shows the between-tracker
    r, ``estimated``: and the estimate of :func:`reliability` (three or more trackers)."""
    text = (
        "Per language and pair of trackers, over the test frames both labelled (the first tracker is the "
        "reference): voicing agreement, gross pitch error (more than 20 % off, on frames both call voiced), "
        "octave down and up (the second tracker within 100 cents of half or double the first; rates are "
        "fractions), the median absolute difference in cents (mad_cents) and the median signed one (bias_cents: "
        "how far the second tracker reads above the first), and r between the trackers on frames both call "
        "voiced (in Hz; r_log in log F0). Trackers are compared frame by frame at the same nominal centres, as "
        "they report them. A probe that read the true F0 perfectly would reach, against one tracker's labels, "
        "the r of those labels with the true F0. If trackers' errors are independent, the r between two trackers "
        "is that r times the other's, so it is a conservative reference, below the ceiling; with three or more "
        "trackers the ceiling itself is estimated (Spearman's triad: r(T,A) = sqrt(r(A,B) r(A,C) / r(B,C))). "
        "Neither is a strict bound: a probe can also learn a tracker's own errors."
    )
    if drawn:
        text += f" Figure (a) draws, over each language's bar, the lowest between-tracker r involving {tracker}"
        text += " and the estimated ceiling." if estimated else "."
    return text


def reliability_table(agreement: pd.DataFrame, probed: str) -> pd.DataFrame:
    """Per language and tracker: the lowest between-tracker r involving it and its estimated r with the true F0
    (:func:`reliability`); ``probed`` marks the labels the probes were fitted on."""
    if agreement.empty:
        return pd.DataFrame()
    rows = []
    for tracker in dict.fromkeys([*agreement.tracker_a, *agreement.tracker_b]):
        low, est = ceiling(agreement, tracker), reliability(agreement, tracker)
        rows += [
            {
                "code": c,
                "tracker": tracker,
                "probed": tracker == probed,
                "lowest between-tracker r": low[c],
                "estimated r with the true F0": est.get(c, np.nan),
            }
            for c in low
        ]
    return pd.DataFrame(rows).sort_values(["code", "tracker"]).reset_index(drop=True)


__all__ = [
    "AGREEMENT_COLUMNS",
    "AGREEMENT_SPLIT",
    "agreement_table",
    "agreement_text",
    "ceiling",
    "reliability",
    "reliability_table",
]
