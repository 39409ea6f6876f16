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
from pitchprobe.core.layout import label_params_path
from pitchprobe.core.timing import samples_to_ms
from pitchprobe.labels.consensus import CONSENSUS
from pitchprobe.labels.store import label_params, label_timing, read_labels
from pitchprobe.labels.trackers import PYAAPT_TRACKERS, TRACKERS
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
    "Where each tracker's label frames sit, measured on signals that carry a known F0 with no delay (zero-phase "
    "harmonic synthesis): log chirp pairs (up and down, whose mean cancels a level bias) and a 5 Hz vibrato, in "
    "registers around 110, 160 and 240 Hz, also after voicing in another register (a wider utterance range). At "
    "nominal centres: the range over registers, signals and ranges of where the "
    "content sits from the frame's nominal centre (negative = earlier). Placement: how the frames are placed "
    "before any measured offset (pYAAPT per utterance, at the centre of the correlation windows its F0 came "
    "from). Chirp and vibrato estimates: from the placed centres; the measured offset is their midpoint and the "
    "uncertainty the largest distance of any register's estimate from it. Calibration error: the median absolute "
    "error of the labels, in cents, against the true F0 of the calibration signals."
)
PLACEMENT_TEXT = {
    "fixed": "at its nominal centres",
    "pyaapt-window": "per utterance, at the centre of pYAAPT's correlation windows",
}


def _round(value, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def _ms(samples, fs) -> float | None:
    """Samples as ms, to 0.01 ms (the calibration resolves about 0.05 ms)."""
    return None if samples is None else _round(samples_to_ms(samples, fs), 2)


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
        nominal = [v for r in (timing.get("by_register") or {}).values() for v in r["nominal"].values()]
        rows.append(
            {
                "tracker": tracker,
                "package": info.package if info else "",
                "licence": info.licence if info else "",
                "placement": PLACEMENT_TEXT.get(timing.get("placement", "fixed"), timing.get("placement")),
                "at nominal centres (ms)": f"{_ms(min(nominal), fs):+.2f} to {_ms(max(nominal), fs):+.2f}"
                if nominal
                else "",
                "chirp estimate (ms)": _ms(chirps, fs),
                "vibrato estimate (ms)": _ms(vibrato, fs),
                "measured offset (ms)": _round(timing.get("offset_ms"), 2),
                "uncertainty (ms)": _ms(timing.get("uncertainty_samples"), fs),
                "tolerance (ms)": timing.get("tolerance_ms"),
                "applied offset (samples)": timing.get("applied_offset_samples"),
                "calibration error (cents)": _round(timing.get("median_error_cents"), 1),
                "note": _timing_note(timing),
            }
        )
    return pd.DataFrame(rows)


def _timing_note(timing: dict) -> str:
    if timing.get("tracker") == CONSENSUS:
        return "consensus: each utterance at the rounded mean of its trackers' placed centres"
    if timing.get("measured") is False:
        return f"not measured ({timing.get('reason')}): placed by its rule alone"
    if "by_register" not in timing:
        return "timed by an older pitchprobe, against a delayed reference: relabel with --overwrite"
    if not timing.get("applied_offset_samples"):
        return "within tolerance of its placement: nothing added"
    return "applied: the labels' centres moved by the measured offset"


def headline_view(headline: pd.DataFrame) -> pd.DataFrame:
    """The headline table for reading: each value with its interval and best layer in one cell."""
    columns = {
        "movement": "movement: within-utt. r, st_utt",
        "register": "register: r, utterance median",
        "pooled_r": "pooled r, f0_voiced",
    }
    out = _cells(headline, ["test_utterances"], columns)
    for col, label in (
        ("movement_ceiling", "labels' movement ceiling"),
        ("register_ceiling", "labels' register ceiling"),
    ):
        if col in headline and not out.empty:
            out[label] = [f"{v:.3f}" if pd.notna(v) else "" for v in headline[col]]
    return out


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
        f"{r.tracker}, placed {r.placement}, {r['chirp estimate (ms)']:+.2f} ms on chirps and "
        f"{r['vibrato estimate (ms)']:+.2f} ms on vibrato from there, so {r['measured offset (ms)']:+.2f} ± "
        f"{r['uncertainty (ms)']:.2f} ms, "
        + (f"applied ({r['applied offset (samples)']} samples)" if r["applied offset (samples)"] else "not applied")
        + f" (at its nominal centres: {r['at nominal centres (ms)']} ms)"
        for _, r in measured.iterrows()
    )
    timing_sentence = (
        " Frame timing was measured, not assumed, on signals whose F0 is known at every sample and reaches the "
        "audio with no delay (zero-phase harmonic synthesis: a causal formant filter would delay the audio by its "
        "group delay, 1.7-3.4 ms, and that delay would be mistaken for the tracker's): log chirp pairs (up and "
        "down, whose mean cancels a level bias) and a 5 Hz vibrato, in registers around 110, 160 and 240 Hz. "
        f"Where each tracker's label frame sits: {offsets}. The uncertainty is the largest distance of any "
        "register's, signal's or range's estimate from the offset: a label sits at most that far from its placed "
        "centre in every condition measured."
        + _pyaapt_sentence(measured, labels)
        + " An offset beyond the placement is applied (it moves the labels' centres, and with them the alignment) "
        "when it exceeds the tolerance of 1 ms, under 8 cents at the fastest F0 movements of speech (about 80 "
        "st/s). The frame length is pYAAPT's analysis window; Praat and SwiftF0 analyse with windows of their own "
        "and are sampled at the grid's centres."
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
        f"{labels['f0_max_hz']} Hz; label frame k nominally centred at sample {_nominal_first(labels)} + "
        f"{labels['hop_samples']}k (pYAAPT's frames_pos); each utterance's frames are placed where they were "
        "measured to sit, and its placed centres are stored with its labels and predictions." + timing_sentence
    )


def _nominal_first(labels: dict) -> int:
    """Nominal centre of label frame 0, samples (results before placements named it ``first_centre_samples``)."""
    return int(labels.get("nominal_first_centre_samples", labels.get("first_centre_samples", 0)))


def _pyaapt_sentence(measured: pd.DataFrame, labels: dict) -> str:
    """What pYAAPT's timing is and how its labels are placed, with its measured spread (if pYAAPT was timed)."""
    rows = measured[measured.tracker.isin(PYAAPT_TRACKERS)]
    if rows.empty:
        return ""
    r = rows.iloc[0]
    values = (
        "amfm_decompy's, unchanged (it reads a period of L samples as fs / (L + 1): 17-34 cents low at 160-320 Hz)"
        if set(rows.tracker) == {"pyaapt"}
        else "amfm_decompy's, with pyaapt-fixed reading a period of L samples as fs / L where amfm_decompy reads "
        "fs / (L + 1) (17-34 cents low at 160-320 Hz)"
    )
    return (
        " pYAAPT has no single delay: each frame's F0 comes from a correlation window that starts at the frame's "
        "start (after a causal 151-tap band-pass filter, 75 samples of delay) and whose length is the 35 ms "
        "time-domain window less the longest lag searched, which follows the whole utterance's F0 range. So on "
        f"the calibration signals the content of a {labels['frame_length_ms']:g} ms frame sits "
        f"{r['at nominal centres (ms)']} ms from its nominal centre, by register and utterance range. Its labels "
        "are therefore placed per utterance, at the median over voiced frames of the centres of the windows their "
        "F0 came from (pitchprobe.labels.yaapt_windows, computed from the lag ranges pYAAPT itself searched); its "
        "values are " + values + ". Within an utterance the window still moves with the F0: on moving contours of "
        "110-240 Hz the content sits within about ±1 ms of the placed centre between the quartiles of voiced "
        "stretches (benchmarks/bench_timing.py), the labels' remaining timing uncertainty."
    )


def placed_offsets(root: Path, codes: list[str], tracker: str) -> np.ndarray:
    """int64 (U,): samples from the nominal centres to where each labelled test utterance of ``codes`` by
    ``tracker`` is placed (its stored ``first_centre_samples`` less the nominal centre)."""
    out = []
    for code in codes:
        params_path = label_params_path(root, code, tracker=tracker)
        if not params_path.is_file():
            continue
        nominal = label_params(root, code, tracker=tracker).first_centre_samples()
        out += [r.first_centre_samples - nominal for r in read_labels(root, code, "test", tracker=tracker).values()
                if r.status == "ok"]  # fmt: skip
    return np.asarray(out, dtype=np.int64)


def offset_effect(labels: dict, models: pd.DataFrame, *, placed: np.ndarray) -> str:
    """One sentence: the share of the probed label frames that their placement moves to another model frame.

    ``labels``: a result's label settings (nominal centre and hop); ``models``: the report's models table (hop
    and first frame centre, in samples); ``placed``: :func:`placed_offsets` of the probed labels. Alignment takes
    the nearest model frame, so an offset well under half a model hop moves few labels.
    """
    placed = np.asarray(placed)
    if models.empty or placed.size == 0 or not np.any(placed):
        return ""
    nominal = FrameGrid(float(_nominal_first(labels)), float(labels["hop_samples"]))
    centres = nominal.centres(1000)  # 20 s at the default hop: every phase of the two grids' beat
    values, counts = np.unique(placed, return_counts=True)
    moved = []
    for _, m in models.iterrows():
        grid = FrameGrid(float(m["first frame centre (samples)"]), float(m["hop (samples)"]))
        base = nearest_frames(centres, grid)
        share = sum(c * np.mean(nearest_frames(centres + v, grid) != base) for v, c in zip(values, counts))
        moved.append(f"{share / placed.size:.0%} with {m['model']}")
    lo, mid, hi = np.percentile(placed, [5, 50, 95])
    return (
        f" The probed labels' test utterances are placed {mid:+.0f} samples from their nominal centres (median; "
        f"5-95 %: {lo:+.0f} to {hi:+.0f}, {placed.size} utterances). Share of their label frames that this moves "
        f"to another model frame than the nominal centres would take: {', '.join(moved)}. Each label takes the "
        "model frame with the nearest centre, so an offset well under half a model hop changes few pairs, and a "
        "label sits up to half a model hop from its frame's centre either way."
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
    "placed_offsets",
    "timing_table",
]
