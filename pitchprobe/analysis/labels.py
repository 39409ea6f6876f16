"""What the report says about the labels: trackers, their agreement, their timing, the frames used, the targets.

- :func:`agreement_table`: per language and ordered pair of trackers, over the test split's frames,
  the agreement metrics of :func:`pitchprobe.labels.agreement.pair_agreement`, from the labels stored
  in the data root (``tables/agreement.csv``). Its ``r`` is a practical ceiling on a probe's r against
  one tracker's labels: a probe that read the true F0 perfectly would correlate with one tracker's labels
  about as well as another, accurate tracker does (not a strict bound: a probe can also learn a tracker's
  own errors). The table covers every label frame of the test utterances that all trackers labelled.
- :func:`timing_table`: each tracker's measured frame offset (:mod:`pitchprobe.labels.calibrate`).
- :func:`frames_table`: per language, the label frames the probes used, and those masked.
- :data:`TARGETS_TEXT`, :data:`READING_TEXT`: what each target means, and how to read movement against
  register.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pitchprobe.labels.agreement import agreement_rows
from pitchprobe.labels.store import label_timing, read_labels
from pitchprobe.labels.trackers import TRACKERS
from pitchprobe.probe.results import ProbeResult

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
    "r",
    "r_log",
    "length_mismatch_frames",  # frames one tracker has beyond the other's (0 when all label the same grid)
]

TARGETS_TEXT = (
    "Targets, one linear probe each per layer: f0_all, F0 in Hz on every frame with unvoiced frames as 0 Hz "
    "(the prototype's); f0_voiced, F0 in Hz on voiced frames; logf0_voiced, natural-log F0 on voiced frames; "
    "st_utt, semitones relative to the utterance's median voiced F0, on voiced frames (pitch movement inside "
    "an utterance, with the speaker's register removed); register, the utterance's median voiced F0 in "
    "semitones re 100 Hz, one value per utterance, probed from the layer's mean-pooled state; voicing, "
    "least squares on a 0/1 voiced target, thresholded where normal fits of its dev scores on voiced and "
    "unvoiced frames have equal density, scored by balanced accuracy and ROC AUC. Pooled r is one "
    "correlation over every test frame; within-utterance r (r_within) is each test utterance's own "
    "correlation over its voiced frames, averaged with weights = its voiced frames."
)
READING_TEXT = (
    "How to read movement against register. A pooled r over every frame is high whenever a probe can tell a "
    "low voice from a high one, i.e. the speaker's register and gender, even if it cannot follow the "
    "contour inside an utterance; and the gender mix of FLEURS differs by language. So the headline is a "
    "pair: movement, the within-utterance r of the st_utt probe (does the layer follow the rises and falls "
    "of tone and intonation relative to the speaker's own range?), and register, the r of the register "
    "probe across test utterances (does it know how high this voice is?). A layer high on register and low "
    "on movement knows how high a voice is but not how its pitch moves; the reverse, movement without "
    "register. "
    "For tonal languages the question of transfer is about movement."
)


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


def timing_table(root: Path, codes: list[str], trackers: list[str]) -> pd.DataFrame:
    """Each tracker's measured frame timing as stored with the labels of the first of ``codes`` that has it."""
    rows = []
    for tracker in trackers:
        timing = next((t for t in (label_timing(root, c, tracker=tracker) for c in codes) if t is not None), None)
        if timing is None:
            continue
        info = TRACKERS.get(tracker)
        fs = timing.get("sampling_rate", 16000)
        chirps, vibrato = ((timing.get("by_signal") or {}).get(k) for k in ("chirp_pair", "vibrato"))
        rows.append(
            {
                "tracker": tracker,
                "package": info.package if info else "",
                "licence": info.licence if info else "",
                "nominal frame 0 centre (samples)": timing.get("nominal_first_samples"),
                "chirp estimate (ms)": None if chirps is None else chirps * 1000 / fs,
                "vibrato estimate (ms)": None if vibrato is None else vibrato * 1000 / fs,
                "measured offset (ms)": timing.get("offset_ms"),
                "uncertainty (ms)": timing.get("uncertainty_samples", 0.0) * 1000 / fs,
                "tolerance (ms)": timing.get("tolerance_ms"),
                "applied offset (samples)": timing.get("applied_offset_samples"),
                "calibration error (cents)": timing.get("median_error_cents"),
                "note": _timing_note(timing),
            }
        )
    return pd.DataFrame(rows)


def _timing_note(timing: dict) -> str:
    if timing.get("measured") is False:
        return f"not measured ({timing.get('reason')}): nominal centres used"
    if not timing.get("applied_offset_samples"):
        return "within tolerance: nominal centres kept"
    if timing.get("estimates_agree", True):
        return "applied: the labels' centres moved"
    return "applied at the midpoint of chirp and vibrato estimates that differ (signal-dependent timing)"


def headline_view(headline: pd.DataFrame) -> pd.DataFrame:
    """The headline table for reading: each value with its interval and best layer in one cell."""
    if headline.empty:
        return headline

    def cell(row, col):
        v = row[col]
        if pd.isna(v):
            return ""
        return f"{v:.3f} [{row[f'{col}_low']:.3f}, {row[f'{col}_high']:.3f}] (layer {int(row[f'{col}_layer'])})"

    out = headline[["model_tag", "code", "language", "tone_class"]].copy()
    out["movement: within-utt. r, st_utt"] = [cell(r, "movement") for _, r in headline.iterrows()]
    out["register: r, utterance median"] = [cell(r, "register") for _, r in headline.iterrows()]
    out["pooled r, f0_voiced"] = [cell(r, "pooled_r") for _, r in headline.iterrows()]
    return out


def frames_table(within: list[ProbeResult]) -> pd.DataFrame:
    """Per language: label frames used by the probes (train, dev, test), masked ones, and the share kept."""
    rows = {}
    for res in within:
        code = res.language["code"]
        if code in rows:
            continue
        c = res.counts
        used = sum(c[s].frames for s in c)
        masked = sum(getattr(c[s], "masked_frames", 0) for s in c)
        rows[code] = {
            "code": code,
            "labels": res.labels.get("tracker"),
            "frames used": used,
            "voiced": sum(c[s].voiced_frames for s in c),
            "masked": masked,
            "kept (%)": round(100 * used / (used + masked), 1) if used + masked else None,
        }
    return pd.DataFrame(list(rows.values()))


def labels_text(labels: dict, trackers: list[str], timing: pd.DataFrame) -> str:
    """The method's paragraph on the labels: which tracker(s), the grid, the range, the timing used."""
    source = labels.get("tracker", "pyaapt")
    which = (
        f"consensus of {', '.join(labels.get('sources') or [])}: a frame keeps a label where at least two "
        "trackers call it voiced and agree within 50 cents (the geometric mean of the agreeing ones), stays "
        "unvoiced where every tracker says so, and is masked (used neither to fit nor to score) elsewhere"
        if source == "consensus"
        else f"{source}" + (f" ({TRACKERS[source].description})" if source in TRACKERS else "")
    )
    others = [t for t in trackers if t != source]
    compared = f" Compared with it: {', '.join(others)}." if others and source != "consensus" else ""
    offsets = "; ".join(
        f"{r.tracker} {r['chirp estimate (ms)']:+.2f} ms on chirps and {r['vibrato estimate (ms)']:+.2f} ms on "
        f"vibrato, so {r['measured offset (ms)']:+.2f} ± {r['uncertainty (ms)']:.2f} ms, "
        + (f"applied ({r['applied offset (samples)']} samples)" if r["applied offset (samples)"] else "not applied")
        for _, r in timing.iterrows()
        if pd.notna(r["measured offset (ms)"]) and pd.notna(r["chirp estimate (ms)"])
    )
    timing_sentence = (
        " Frame timing was measured, not assumed: on synthetic log chirps (up and down, whose mean cancels a "
        "constant F0 bias) and a vibrato of known F0, each tracker's label frame describes the signal at its "
        f"nominal centre plus: {offsets}. The offset is the midpoint of the two estimates and half their gap its "
        "uncertainty (a tracker with one fixed delay gives both alike; pYAAPT's labels sit a fixed time after the "
        "frame's start, so its offset grows with the frame length and differs between the two kinds of movement). "
        "It is applied (it moves the labels' centres, and with them the alignment) when it exceeds the tolerance "
        "of 1 ms, under 8 cents at the fastest F0 movements of speech (about 80 st/s). Agreement between trackers "
        "compares their labels frame by frame at the same nominal centres, as the trackers report them."
        if offsets
        else ""
    )
    masked = (
        " With consensus labels the register target and the mean-pooled state are taken over the trusted frames only."
        if source == "consensus"
        else ""
    )
    return (
        f"Labels: {which}.{compared}{masked} Every tracker labels pYAAPT's frame grid: frame length "
        f"{labels['frame_length_ms']} ms, hop {labels['frame_space_ms']} ms, F0 range {labels['f0_min_hz']}–"
        f"{labels['f0_max_hz']} Hz; label frame k nominally centred at sample {labels['first_centre_samples']} + "
        f"{labels['hop_samples']}k." + timing_sentence
    )


__all__ = [
    "READING_TEXT",
    "TARGETS_TEXT",
    "agreement_table",
    "ceiling",
    "frames_table",
    "headline_view",
    "labels_text",
    "timing_table",
]
