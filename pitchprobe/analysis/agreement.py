"""How far the pitch trackers agree, per language, and what that bounds: the report's agreement tables.

- :func:`agreement_table`: per language, speaker gender (``all``, and each gender the manifest has) and
  ordered pair of trackers, over the test split's frames, the agreement metrics of
  :func:`pitchprobe.labels.agreement.pair_agreement` and, for the headline pair,
  :func:`~pitchprobe.labels.agreement.headline_agreement`, from the labels stored in the data root
  (``tables/agreement.csv``). The table covers every label frame of the test utterances that all
  trackers labelled.
- :func:`ceiling` and :func:`reliability`: per language (and gender), the between-tracker r of the probed
  tracker, and (with three or more trackers) the estimated r of its labels with the true F0, the ceiling
  itself; for pooled F0 (``r``), movement (``r_movement``) and register (``r_register``).
  :func:`reliability_table` all of them for every tracker, :func:`agreement_text` what the report says.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from pitchprobe.data.manifest import read_manifest
from pitchprobe.labels.agreement import agreement_rows
from pitchprobe.labels.store import read_labels
from pitchprobe.labels.trackers import same_method

AGREEMENT_SPLIT = "test"  # the split the agreement is measured on: the one the probes are scored on
ALL = "all"  # the gender value of rows over every speaker
AGREEMENT_COLUMNS = [
    "code",
    "gender",
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
    "r_movement",  # within-utterance r of semitones re each utterance's median (the st_utt target)
    "r_register",  # r over utterances of their median in semitones (the register target)
    "register_utterances",
    "length_mismatch_frames",  # frames one tracker has beyond the other's (0 when all label the same grid)
]


def agreement_table(root: Path, codes: list[str], trackers: list[str]) -> pd.DataFrame:
    """Agreement of every ordered pair of ``trackers`` (the first is each pair's reference) per language, over the
    test utterances every tracker labelled: over all of them (gender ``all``) and over each speaker gender the
    manifest records (FLEURS: MALE, FEMALE, OTHER); empty with fewer than two trackers."""
    rows = []
    if len(trackers) < 2:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    for code in codes:
        by_tracker = {t: read_labels(root, code, AGREEMENT_SPLIT, tracker=t) for t in trackers}
        ids = sorted(
            set.intersection(*({i for i, lab in labs.items() if lab.status == "ok"} for labs in by_tracker.values()))
        )
        gender = {r["id"]: r.get("gender") for r in read_manifest(root, code, splits=(AGREEMENT_SPLIT,))}
        groups = {ALL: ids}
        for g in sorted({gender.get(i) for i in ids} - {None, ""}):
            groups[g] = [i for i in ids if gender.get(i) == g]
        for group, members in groups.items():
            if not members:
                continue
            labels = {t: [by_tracker[t][i].f0_hz for i in members] for t in trackers}
            rows += [{"code": code, "gender": group, "utterances": len(members), **r} for r in agreement_rows(labels)]
    return pd.DataFrame(rows).reindex(columns=AGREEMENT_COLUMNS) if rows else pd.DataFrame(columns=AGREEMENT_COLUMNS)


def _over_all(agreement: pd.DataFrame) -> pd.DataFrame:
    """The rows over every speaker (tables from before genders were split have no gender column: all of them)."""
    return agreement[agreement.gender == ALL] if "gender" in agreement else agreement


def involving(agreement: pd.DataFrame, tracker: str) -> pd.DataFrame:
    """The agreement rows of the pairs that ``tracker`` is one of."""
    return agreement[(agreement.tracker_a == tracker) | (agreement.tracker_b == tracker)]


def ceiling(agreement: pd.DataFrame, tracker: str, *, column: str = "r") -> dict[str, float]:
    """``{code: r}``: the lowest between-tracker ``column`` (``r``, ``r_movement`` or ``r_register``) involving
    ``tracker`` (the labels the probe was fitted on), over every speaker."""
    agreement = _over_all(agreement)
    if agreement.empty:
        return {}
    sel = involving(agreement, tracker)
    return {code: float(g[column].min()) for code, g in sel.groupby("code")}


def reliability(agreement: pd.DataFrame, tracker: str, *, column: str = "r") -> dict[str, float]:
    """``{code: r}``: the estimated correlation of ``tracker``'s labels with the true F0 (``column`` ``r``), its
    movement (``r_movement``) or its register (``r_register``), over every speaker, from three or more trackers.

    Where each tracker's errors are independent of the F0 and of the others', ``r(A, B) = r(T, A) r(T, B)``
    for trackers A, B and the true F0 T, so ``r(T, A) = sqrt(r(A, B) r(A, C) / r(B, C))`` (Spearman's
    attenuation triad); averaged over the pairs (B, C) of the other trackers and capped at 1 (a triad with two
    variants of one tracker, ``pyaapt`` and ``pyaapt-fixed``, is left out: their errors are shared). That is the r
    against A's labels of a probe that read the true F0 perfectly: the ceiling itself, which the
    between-tracker r (:func:`ceiling`) underestimates by the other tracker's own errors. Each pair's r is
    taken on the frames both of its trackers call voiced, so the estimate is approximate. It also assumes the
    trackers' errors independent: two trackers that share an error (the same octave jump on the same frame)
    agree more than their accuracy warrants, and the third one's estimate comes out low, theirs high.
    """
    out = {}
    for code, g in _over_all(agreement).groupby("code"):
        r = {frozenset((a, b)): v for a, b, v in zip(g.tracker_a, g.tracker_b, g[column])}
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
        "Per language, speaker gender (all, and each gender the manifest records) and pair of trackers, over the "
        "test frames both labelled (the first tracker is the reference): voicing agreement, gross pitch error (more "
        "than 20 % off, on frames both call voiced), octave down and up (the second tracker within 100 cents of "
        "half or double the first; rates are fractions), the median absolute difference in cents (mad_cents) and "
        "the median signed one (bias_cents: how far the second tracker reads above the first), r between the "
        "trackers on frames both call voiced (in Hz; r_log in log F0), and their agreement on the headline pair: "
        "r_movement (within-utterance r of semitones re each utterance's median) and r_register (r over "
        "utterances of their medians). Trackers are compared frame by frame (frame k of each, as each reports it; "
        "pYAAPT's frames, placed per utterance, sit a few ms from the others'). A probe that read the true F0 "
        "perfectly would reach, against one tracker's labels, the r of those labels with the true F0. If trackers' "
        "errors are independent, the r between two trackers "
        "is that r times the other's, so it is a conservative reference, below the ceiling; with three or more "
        "trackers the ceiling itself is estimated (Spearman's triad: r(T,A) = sqrt(r(A,B) r(A,C) / r(B,C))). "
        "Neither is a strict bound: a probe can also learn a tracker's own errors."
    )
    if drawn:
        text += f" Figure (a) draws, over each language's bar, the lowest between-tracker r involving {tracker}"
        text += " and the estimated ceiling." if estimated else "."
    return text


RELIABILITY = {  # agreement column: what it is the reliability of, in the report's words
    "r": "pooled F0",
    "r_movement": "movement",
    "r_register": "register",
}


def reliability_table(agreement: pd.DataFrame, probed: str) -> pd.DataFrame:
    """Per language, gender and tracker: for pooled F0, movement and register, the lowest between-tracker r
    involving it and its estimated r with the truth (:func:`reliability`); ``probed`` marks the labels the probes
    were fitted on."""
    if agreement.empty:
        return pd.DataFrame()
    by_gender = agreement.groupby("gender") if "gender" in agreement else [(ALL, agreement)]
    rows = {}
    for gender, part in by_gender:
        part = part.assign(gender=ALL)  # each gender's rows read as the "all" of that subset
        for tracker in dict.fromkeys([*part.tracker_a, *part.tracker_b]):
            for column, what in RELIABILITY.items():
                low, est = ceiling(part, tracker, column=column), reliability(part, tracker, column=column)
                for c in low:
                    row = rows.setdefault((c, gender, tracker), {"code": c, "gender": gender, "tracker": tracker,
                                                                 "probed": tracker == probed})  # fmt: skip
                    row[f"{what}: lowest between-tracker r"] = low[c]
                    row[f"{what}: estimated r"] = est.get(c, np.nan)
    out = pd.DataFrame(list(rows.values()))
    order = {ALL: 0}
    return out.sort_values(["code", "gender", "tracker"], key=lambda s: s.map(order).fillna(1) if s.name == "gender"
                           else s).reset_index(drop=True)  # fmt: skip


__all__ = [
    "AGREEMENT_COLUMNS",
    "ALL",
    "RELIABILITY",
    "AGREEMENT_SPLIT",
    "agreement_table",
    "agreement_text",
    "ceiling",
    "involving",
    "reliability",
    "reliability_table",
]
