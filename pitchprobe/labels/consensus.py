"""Consensus labels: one label per frame where the trackers agree, masked where they do not.

:func:`make_consensus` combines the stored labels of several trackers of a language
(:mod:`pitchprobe.labels.make`, one tracker each) into labels stored like any tracker's, under
``consensus`` (:func:`pitchprobe.labels.agreement.consensus`: a frame keeps a pitch where at least
two trackers call it voiced and agree within 50 cents, stays unvoiced where every tracker says so,
and is NaN, masked, elsewhere). The probe then fits and scores on trusted frames only
(:func:`pitchprobe.probe.frames.aligned` drops NaN frames and counts them).

The trackers are compared at the same true time and on the same scale:

- each source's labels are taken where they sit (its rows' placed ``first_centre_samples``,
  :mod:`pitchprobe.core.timing`) and read at the consensus's frame centres (the sources' placed
  centres on average) by :func:`pitchprobe.labels.trackers.to_grid` (voicing of the nearest frame,
  log-linear F0 between voiced neighbours), so pYAAPT's labels, placed per utterance, meet Praat's
  and SwiftF0's at the same instants (:func:`at_centres`);
- pYAAPT's values enter with its lag off-by-one undone (:func:`bias_free`: a period of ``L`` samples,
  read as ``fs / (L + 1)``, counts as ``fs / L``, as ``pyaapt-fixed`` reads it), so its 17-34 cents
  low reading neither splits agreeing pairs at the 50-cent tolerance nor pulls their mean down.

No audio is read: the consensus is remade from the trackers' labels whenever it is asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pitchprobe.core.atomic import visible_files, write_json
from pitchprobe.core.audio import SAMPLING_RATE
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.layout import SPLITS, label_params_path, label_split_dir, label_timing_path, language_lock
from pitchprobe.core.lock import file_lock
from pitchprobe.data.manifest import read_manifest
from pitchprobe.labels.agreement import consensus, consensus_counts
from pitchprobe.labels.make import label_row
from pitchprobe.labels.pitch import PitchParams
from pitchprobe.labels.store import (
    PART_PATTERN,
    LabelRecord,
    label_params,
    label_timing,
    prepare_store,
    read_labels,
    write_part,
)
from pitchprobe.labels.trackers import same_method, to_grid
from pitchprobe.labels.yaapt_lag import corrected_rate

CONSENSUS = "consensus"  # the label source name of consensus labels
MIN_SOURCES = 2  # trackers a consensus needs: a pair must be able to agree


def consensus_params(params: PitchParams, sources: tuple[str, ...] | list[str]) -> PitchParams:
    """The settings of a consensus of ``sources`` made on ``params``' grid and F0 range."""
    sources = tuple(dict.fromkeys(sources))
    if len(sources) < MIN_SOURCES:
        raise PitchProbeError(f"consensus labels need at least {MIN_SOURCES} trackers, got {list(sources)}")
    if CONSENSUS in sources:
        raise PitchProbeError("a consensus cannot be made of consensus labels")
    twins = [(a, b) for i, a in enumerate(sources) for b in sources[i + 1 :] if same_method(a, b)]
    if twins:
        a, b = twins[0]
        raise PitchProbeError(
            f"{a} and {b} are one tracker (pYAAPT, its lag read two ways): they would always agree, so a consensus "
            "takes at most one of them"
        )
    return PitchParams(
        params.frame_length_ms, params.frame_space_ms, params.f0_min_hz, params.f0_max_hz, CONSENSUS, sources
    )


def bias_free(source: str, f0: np.ndarray) -> np.ndarray:
    """``source``'s labels (T,) Hz on a common scale: pYAAPT's (``pyaapt``) with its lag off-by-one undone
    (:func:`pitchprobe.labels.yaapt_lag.corrected_rate`), every other tracker's as they are. NaN stays NaN."""
    if source != "pyaapt":
        return f0
    out = np.array(f0, dtype=np.float64)
    voiced = out > 0
    out[voiced] = corrected_rate(out[voiced], SAMPLING_RATE)
    return out


def at_centres(lab: LabelRecord, centres: np.ndarray) -> np.ndarray:
    """One source's labels read at ``centres`` (samples), from where its frames sit: its own values where the two
    coincide, else :func:`~pitchprobe.labels.trackers.to_grid` of its placed frames (NaN, masked, stays NaN at
    the nearest frame)."""
    times = lab.first_centre_samples + lab.hop_samples * np.arange(lab.f0_hz.size)
    if times.size == centres.size and np.array_equal(times, centres):
        return lab.f0_hz
    out = to_grid(times, np.nan_to_num(lab.f0_hz, nan=0.0), centres, hop_samples=lab.hop_samples)
    masked = np.isnan(lab.f0_hz)
    if masked.any():
        nearest = np.clip(np.rint((centres - times[0]) / lab.hop_samples).astype(np.int64), 0, times.size - 1)
        out[masked[nearest]] = np.nan
    return out


def make_consensus(code: str, *, root: Path, params: PitchParams, splits: tuple[str, ...] = SPLITS) -> dict:
    """(Re)make ``code``'s consensus labels from its stored labels by each of ``params.sources``.

    An utterance gets a consensus row when every source labelled it; otherwise a failed row with the
    first failing source's reason. Its frames sit where its sources' rows place them, on average (rounded
    to a sample), and every source is read there (:func:`at_centres`) on a common scale (:func:`bias_free`).

    Returns
    -------
    dict
        ``{split: {"utterances", "failed", "frames", "voiced", "unvoiced", "masked"}}``.
    """
    if params.tracker != CONSENSUS:
        raise PitchProbeError(f"consensus labels have tracker {CONSENSUS!r}, not {params.tracker!r}")
    with file_lock(language_lock(root, code), what=f"consensus labels of {code}"):
        timings = {}
        for source in params.sources:
            stored = label_params(root, code, tracker=source)
            if (stored.frame_length_ms, stored.frame_space_ms) != (params.frame_length_ms, params.frame_space_ms):
                raise PitchProbeError(f"{code}: {source} labels were made on another frame grid ({stored})")
            timings[source] = label_timing(root, code, tracker=source) or {"applied_offset_samples": 0}
        same = (
            label_params_path(root, code, tracker=CONSENSUS).is_file()
            and label_params(root, code, tracker=CONSENSUS) == params
        )
        # made from the same trackers: the new parts are written first and the old ones removed after, so that a
        # reader meanwhile sees old or new rows (the later part wins), never none; else everything goes first
        old = [
            p for s in splits for p in visible_files(label_split_dir(root, code, s, tracker=CONSENSUS), PART_PATTERN)
        ]
        prepare_store(root, code, params, overwrite=not same, splits=splits)
        write_json(
            label_timing_path(root, code, tracker=CONSENSUS),
            {
                "tracker": CONSENSUS,
                "placement": "mean of its sources' rows, each source read there",
                "values": "pyaapt with its lag off-by-one undone",
                "sources": timings,
            },  # fmt: skip
        )
        records = read_manifest(root, code, splits=splits)
        summary = {}
        for split in splits:
            by_source = {s: read_labels(root, code, split, tracker=s) for s in params.sources}
            rows, counts = [], {"utterances": 0, "failed": 0, "frames": 0, "voiced": 0, "unvoiced": 0, "masked": 0}
            for rec in (r for r in records if r["split"] == split):
                labs = [by_source[s].get(rec["id"]) for s in params.sources]
                bad = next(
                    ((s, lab) for s, lab in zip(params.sources, labs) if lab is None or lab.status != "ok"), None
                )
                if bad is not None:
                    source, lab = bad
                    reason = "no_labels" if lab is None else lab.reason
                    message = f"{source}: " + ("no labels for this file" if lab is None else str(lab.message))
                    rows.append(label_row(rec["id"], params, status="failed", reason=reason, message=message))
                    counts["failed"] += 1
                    continue
                n = min(lab.f0_hz.size for lab in labs)  # equal on one grid; a shorter one would be cut
                first = int(round(float(np.mean([lab.first_centre_samples for lab in labs]))))
                centres = first + labs[0].hop_samples * np.arange(n)
                f0 = consensus([bias_free(s, at_centres(lab, centres)) for s, lab in zip(params.sources, labs)])
                row = label_row(rec["id"], params, num_samples=labs[0].num_samples, f0_hz=f0)
                rows.append({**row, "first_centre_samples": first})
                counts["utterances"] += 1
                for key, value in consensus_counts(f0).items():
                    counts[key] += value
            if rows:
                write_part(label_split_dir(root, code, split, tracker=CONSENSUS), rows, params)
            summary[split] = counts
        for part in old if same else ():
            part.unlink(missing_ok=True)
    return summary


__all__ = ["CONSENSUS", "at_centres", "bias_free", "consensus_params", "make_consensus"]
