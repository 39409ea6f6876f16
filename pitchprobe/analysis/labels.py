"""What the report says about the labels: their timing, the frames used, the targets, the headline's reading.

How far the trackers agree is :mod:`pitchprobe.analysis.agreement`.

- :func:`timing_table`: each tracker's measured frame offset (:mod:`pitchprobe.labels.calibrate`), and
  :func:`offset_effect`: how many label frames the applied offsets move to another model frame.
- :func:`frames_table`: per language, the label frames the probes used, and those masked.
- :data:`TARGETS_TEXT`, :data:`READING_TEXT`: what each target means, and how to read movement against
  register.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pitchprobe.core.align import FrameGrid, nearest_frames
from pitchprobe.core.audio import SAMPLING_RATE
from pitchprobe.labels.consensus import CONSENSUS
from pitchprobe.labels.store import label_timing
from pitchprobe.labels.trackers import TRACKERS
from pitchprobe.probe.results import ProbeResult

TARGETS_TEXT = (
    "Targets, one linear probe each per layer: f0_all, F0 in Hz on every frame with unvoiced frames as 0 Hz "
    "(the prototype's); f0_voiced, F0 in Hz on voiced frames; logf0_voiced, natural-log F0 on voiced frames; "
    "st_utt, semitones relative to the utterance's median voiced F0, on voiced frames (pitch movement inside "
    "an utterance, with the speaker's register removed); register, the utterance's median voiced F0 in "
    "semitones re 100 Hz, one value per utterance, probed from the layer's mean-pooled state; voicing, "
    "least squares on a 0/1 voiced target, thresholded where normal fits of its dev scores on voiced and "
    "unvoiced frames have equal density, scored by balanced accuracy and ROC AUC. Pooled r is one "
    "correlation over every test frame the target is scored on (the voiced ones, for the F0 targets); "
    "within-utterance r (r_within) is each test utterance's own "
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
    "For tonal languages the question of transfer is about movement. Each value sits at the best layer of its "
    "own probe (lowest dev MSE of that probe), so the three may come from different layers (given in brackets). "
    "The register r is a correlation over the test utterances (counted in the table): with fewer than about 30 "
    "its interval is wide, and as FLEURS has no speaker ids, utterances of one speaker are resampled as if "
    "independent, so the interval is if anything too narrow."
)


TIMING_TEXT = (
    "Chirp and vibrato estimates: where the signal a label frame describes sits, against the frame's nominal "
    "centre (negative = earlier); the measured offset is their midpoint and the uncertainty half their gap. "
    "Calibration error: the median absolute error of the tracker's labels, in cents, against the true F0 of "
    "the calibration signals (log chirps of 110-275 Hz, a vibrato around 160 Hz)."
)


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
        uncertainty = timing.get("uncertainty_samples")
        rows.append(
            {
                "tracker": tracker,
                "package": info.package if info else "",
                "licence": info.licence if info else "",
                "nominal frame 0 centre (samples)": timing.get("nominal_first_samples"),
                "chirp estimate (ms)": None if chirps is None else chirps * 1000 / fs,
                "vibrato estimate (ms)": None if vibrato is None else vibrato * 1000 / fs,
                "measured offset (ms)": timing.get("offset_ms"),
                "uncertainty (ms)": None if uncertainty is None else uncertainty * 1000 / fs,
                "tolerance (ms)": timing.get("tolerance_ms"),
                "applied offset (samples)": timing.get("applied_offset_samples"),
                "calibration error (cents)": timing.get("median_error_cents"),
                "note": _timing_note(timing),
            }
        )
    return pd.DataFrame(rows)


def _timing_note(timing: dict) -> str:
    if timing.get("tracker") == CONSENSUS:
        return "consensus: the rounded mean of its trackers' applied offsets"
    if timing.get("measured") is False:
        return f"not measured ({timing.get('reason')}): nominal centres used"
    if "uncertainty_samples" not in timing:
        return "timed by an older pitchprobe, before the vibrato estimate counted: relabel with --overwrite"
    if not timing.get("applied_offset_samples"):
        return "within tolerance: nominal centres kept"
    if timing.get("estimates_agree", True):
        return "applied: the labels' centres moved"
    return "applied at the midpoint of chirp and vibrato estimates that differ (signal-dependent timing)"


def headline_view(headline: pd.DataFrame) -> pd.DataFrame:
    """The headline table for reading: each value with its interval and best layer in one cell."""
    columns = {
        "movement": "movement: within-utt. r, st_utt",
        "register": "register: r, utterance median",
        "pooled_r": "pooled r, f0_voiced",
    }
    return _cells(headline, ["test_utterances"], columns)


def detail_view(detail: pd.DataFrame) -> pd.DataFrame:
    """:func:`pitchprobe.analysis.aggregate.detail_table` for reading, one cell per value."""
    columns = {
        "voicing_balanced_accuracy": "voicing: balanced accuracy",
        "voicing_auc": "voicing: ROC AUC (no interval)",
        "rmse_cents": "f0_voiced: RMSE (cents)",
    }
    out = _cells(detail, [], columns)
    if not out.empty:
        out["train-mean floor: RMSE (cents)"] = [f"{v:.1f}" if pd.notna(v) else "" for v in detail.rmse_cents_floor]
    return out


def _cells(table: pd.DataFrame, extra: list[str], columns: dict[str, str]) -> pd.DataFrame:
    """``table``'s keys and ``extra`` columns, then each of ``columns`` as "value [interval] (layer L)"."""
    if table.empty:
        return table

    def cell(row, col):
        v = row[col]
        if pd.isna(v):
            return ""
        lo, hi = row[f"{col}_low"], row[f"{col}_high"]
        interval = f" [{lo:.3f}, {hi:.3f}]" if pd.notna(lo) and pd.notna(hi) else ""
        return f"{v:.3f}{interval} (layer {int(row[f'{col}_layer'])})"

    out = table[["model_tag", "code", "language", "tone_class", *extra]].copy()
    for col, label in columns.items():
        out[label] = [cell(r, col) for _, r in table.iterrows()]
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
    measured = timing[timing["uncertainty (ms)"].notna()] if "uncertainty (ms)" in timing else timing.iloc[:0]
    offsets = "; ".join(
        f"{r.tracker} {r['chirp estimate (ms)']:+.2f} ms on chirps and {r['vibrato estimate (ms)']:+.2f} ms on "
        f"vibrato, so {r['measured offset (ms)']:+.2f} ± {r['uncertainty (ms)']:.2f} ms, "
        + (f"applied ({r['applied offset (samples)']} samples)" if r["applied offset (samples)"] else "not applied")
        for _, r in measured.iterrows()
    )
    timing_sentence = (
        " Frame timing was measured, not assumed: on synthetic log chirps (up and down, whose mean cancels a "
        "constant F0 bias) and a vibrato of known F0, each tracker's label frame describes the signal at its "
        f"nominal centre plus: {offsets}. The offset is the midpoint of the two estimates and half their gap its "
        "uncertainty; a tracker with one fixed delay gives both estimates alike."
        + _signal_dependent(measured, labels)
        + " An offset is applied (it moves the labels' centres, and with them the alignment) when it exceeds the "
        "tolerance of 1 ms, under 8 cents at the fastest F0 movements of speech (about 80 st/s). The frame "
        "length is pYAAPT's analysis window; Praat and SwiftF0 analyse with windows of their own and are "
        "sampled at the grid's centres."
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


def _signal_dependent(measured: pd.DataFrame, labels: dict) -> str:
    """A sentence on the trackers whose two timing estimates differ by more than the tolerance (pYAAPT's)."""
    wide = measured[2 * measured["uncertainty (ms)"] > measured["tolerance (ms)"]]
    parts = []
    for _, r in wide.iterrows():
        # ms from the frame's start to its nominal centre (the grid is pYAAPT's at 16 kHz)
        half = float(r["nominal frame 0 centre (samples)"]) * 1000 / SAMPLING_RATE
        parts.append(
            f"{r.tracker}'s two estimates differ: what it labels sits {half + r['chirp estimate (ms)']:.1f} ms "
            f"(chirps) and {half + r['vibrato estimate (ms)']:.1f} ms (vibrato) after the start of its "
            f"{labels['frame_length_ms']:g} ms frame, and its uncertainty of {r['uncertainty (ms)']:.1f} ms exceeds "
            "the tolerance: no single offset places its labels better"
        )
    anchored = (
        " pYAAPT's labels sit a fixed time after the start of its frame whatever the frame length (measured at 25, "
        "35 and 50 ms), so its offset from the centre grows with the frame length."
        if "pyaapt" in set(wide.tracker)
        else ""
    )
    return (" " + "; ".join(parts) + "." + anchored) if parts else ""


def offset_effect(labels: dict, timing: pd.DataFrame, models: pd.DataFrame) -> str:
    """One sentence: the share of label frames that each applied tracker offset moves to another model frame.

    ``labels``: a result's label settings (nominal ``first_centre_samples``, ``hop_samples``); ``timing``:
    :func:`timing_table`; ``models``: the report's models table (hop and first frame centre, in samples).
    Alignment takes the nearest model frame, so an offset well under half a model hop moves few labels.
    """
    if timing.empty or models.empty:
        return ""
    probed = timing[timing.tracker == labels.get("tracker", "pyaapt")]  # only the probed labels meet a model
    applied = probed[probed["applied offset (samples)"].fillna(0) != 0]
    if applied.empty:
        return ""
    nominal = FrameGrid(float(labels["first_centre_samples"]), float(labels["hop_samples"]))
    centres = nominal.centres(1000)  # 20 s at the default hop: every phase of the two grids' beat
    parts = []
    for _, t in applied.iterrows():
        moved = []
        for _, m in models.iterrows():
            grid = FrameGrid(float(m["first frame centre (samples)"]), float(m["hop (samples)"]))
            offset = float(t["applied offset (samples)"])
            share = np.mean(nearest_frames(centres + offset, grid) != nearest_frames(centres, grid))
            moved.append(f"{share:.0%} with {m['model']}")
        parts.append(f"{t.tracker}, {', '.join(moved)}")
    return (
        " Share of the probed label frames that their applied offset moves to another model frame than their "
        "nominal centres would take: "
        + "; ".join(parts)
        + ". Each label takes the model frame with the nearest centre, so an "
        "offset well under half a model hop changes few pairs, and a label sits up to half a model hop from its "
        "frame's centre either way."
    )


__all__ = [
    "READING_TEXT",
    "TARGETS_TEXT",
    "TIMING_TEXT",
    "detail_view",
    "frames_table",
    "headline_view",
    "labels_text",
    "offset_effect",
    "timing_table",
]
