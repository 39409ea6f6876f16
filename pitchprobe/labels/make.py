"""The labelling run: every utterance of a gathered language that has no labels yet, in a robust pool.

Labels are made by one tracker (``params.tracker``: :mod:`pitchprobe.labels.trackers`) and stored
under its name. Each row's ``first_centre_samples`` is where its frames sit
(:mod:`pitchprobe.core.timing`): the nominal centre, plus the tracker's placement of that utterance
(pYAAPT's correlation windows, :mod:`pitchprobe.labels.yaapt_windows`), plus what the calibration
on delay-free signals still measures beyond the tolerance (:mod:`pitchprobe.labels.calibrate`,
once per tracker and settings, cached in the data root).

One process at a time labels a language of a data root (the language's lock;
a second one waits, then finds the work done). Files are labelled in worker
processes (:mod:`pitchprobe.labels.pool`), longest first, each bounded in
time by its duration and started only while the memory of the running ones
fits in RAM. Rows are written every few dozen utterances, so a killed run
loses at most the utterances in flight and a rerun computes only what is
missing.

Failures are classified (:mod:`pitchprobe.core.errors`): a file's own fault
(corrupt, silent, pYAAPT failed, ...) is permanent and skipped by reruns; a
fault of the run (out of memory, time-out, worker died, I/O error) is
transient and retried by the next run. ``retry_failed`` retries both.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path

from tqdm.auto import tqdm

from pitchprobe.core.atomic import write_json
from pitchprobe.core.audio import SAMPLING_RATE, load_audio
from pitchprobe.core.errors import AudioError, PitchProbeError, is_permanent
from pitchprobe.core.layout import SPLITS, calibration_path, label_split_dir, label_timing_path, language_lock
from pitchprobe.core.lock import file_lock
from pitchprobe.core.timing import label_timing_identity
from pitchprobe.data.manifest import read_manifest
from pitchprobe.labels.pitch import (
    DEFAULT_PARAMS,
    FLUSH_EVERY,
    FLUSH_SECONDS,
    MEMORY_BASE_BYTES,
    MEMORY_PER_AUDIO_S,
    TIME_LIMIT_BASE_S,
    TIME_LIMIT_PER_AUDIO_S,
    PitchParams,
)
from pitchprobe.labels.pool import Task, TaskFailure, available_cpus, run_tasks
from pitchprobe.labels.store import label_timing, prepare_store, read_labels, write_part
from pitchprobe.labels.timing_signals import signal_settings
from pitchprobe.labels.trackers import release_detectors, require, track_placed, tracker_info

_TIMINGS: dict[str, dict] = {}  # this process's measured timings, by settings key
CALIBRATION_VERSION = 3  # bump when pitchprobe.labels.calibrate measures differently: cached timings are redone


def label_row(utt_id: str, params: PitchParams, *, offset: int = 0, **fields) -> dict:
    """A label row (:mod:`pitchprobe.labels.store`'s columns): ``ok`` and empty unless ``fields`` say otherwise.

    ``offset``: samples from the nominal frame centre to where this utterance's frames sit.
    """
    row = {
        "id": utt_id,
        "status": "ok",
        "reason": None,
        "message": None,
        "num_samples": 0,
        "sampling_rate": SAMPLING_RATE,
        "hop_samples": params.hop_samples(),
        "first_centre_samples": params.first_centre_samples() + int(offset),
        "f0_hz": None,
    }
    return {**row, **fields}


def label_file(path: str, utt_id: str, params: PitchParams, offset: int = 0) -> dict:
    """Label one file with ``params.tracker``; return its Parquet row. Failures become rows with ``status='failed'``.

    ``offset``: the calibrated offset (samples) added to the tracker's own placement of the file's frames.
    """
    row = label_row(utt_id, params, offset=offset)
    try:
        wav = load_audio(path)
        row["num_samples"] = int(wav.size)
        tracked = track_placed(params.tracker, wav, params=params)
        row["f0_hz"] = tracked.f0_hz
        row["first_centre_samples"] += tracked.offset_samples
    except AudioError as e:
        row.update(status="failed", reason=e.reason, message=str(e))
    except MemoryError:
        row.update(status="failed", reason="out_of_memory", message=f"{path}: out of memory in {params.tracker}")
    except OSError as e:
        row.update(status="failed", reason="io_error", message=f"{path}: {type(e).__name__}: {e}")
    return row


@dataclass
class LabelSummary:
    """Counts of one labelling run for one language."""

    code: str
    total: int = 0
    already_done: int = 0
    computed: int = 0
    retried: int = 0  # failures of earlier runs tried again
    failed: list[dict] = field(default_factory=list)  # {"id", "split", "reason", "message"}
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def ok(self) -> int:
        """Utterances with labels now."""
        return self.total - len(self.failed)

    def as_dict(self) -> dict:
        return asdict(self)


def tracker_timing(root: Path, params: PitchParams) -> dict:
    """``params.tracker``'s measured frame timing (:class:`~pitchprobe.labels.calibrate.TrackerTiming`, as a dict):
    read from the data root's calibration cache, else measured now and cached there."""
    from pitchprobe.labels import calibrate as calibration

    info = require(params.tracker)
    version = _package_version(info.package)
    what = {
        **params.as_json(),
        "package": info.package,
        "version": version,
        "calibration": CALIBRATION_VERSION,
        "placement": info.placement,
        "signals": signal_settings(),
    }
    key = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]
    path = calibration_path(root, params.tracker, key)
    if path.is_file():
        return json.loads(path.read_text())
    if key in _TIMINGS:  # measured by this process already, for another data root
        write_json(path, _TIMINGS[key])
        return _TIMINGS[key]
    try:
        timing = {**calibration.calibrate_tracker(params.tracker, params=params).as_dict(), "package_version": version}
    except (PitchProbeError, MemoryError) as e:  # the tracker fails on the calibration signals (an F0 range
        # that misses them, say): the labels are placed by the tracker's rule alone, and the timing says why
        timing = {"tracker": params.tracker, "placement": info.placement, "measured": False,
                  "reason": f"{type(e).__name__}: {e}", "applied_offset_samples": 0,
                  "package_version": version}  # fmt: skip
        _TIMINGS[key] = timing
        return timing
    finally:
        release_detectors()  # no tracker session (SwiftF0's ONNX threads) is inherited by forked workers
    write_json(path, timing)
    _TIMINGS[key] = timing
    return timing


@functools.cache
def _package_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def labels_placement(root: Path, params: PitchParams) -> dict:
    """Where labels made with ``params`` are placed now (:func:`pitchprobe.core.timing.label_timing_identity`):
    the tracker's placement rule and applied offset (:func:`tracker_timing`); for a consensus, its sources'.
    Part of a result's fingerprint."""
    if params.sources:
        return {s: labels_placement(root, replace(params, tracker=s, sources=())) for s in params.sources}
    return label_timing_identity(tracker_timing(root, params))


def moved_from(root: Path, code: str, params: PitchParams, placement: dict) -> dict | None:
    """Where ``code``'s stored labels of ``params.tracker`` are placed (:func:`labels_placement`), if some with
    frames are and not as ``placement``; None otherwise. Labels stored before timings were measured sit at the
    nominal centres; a store of failed rows only sits nowhere (they are simply retried)."""
    was = label_timing_identity(label_timing(root, code, tracker=params.tracker))
    if was != placement and any(
        lab.status == "ok" for s in SPLITS for lab in read_labels(root, code, s, tracker=params.tracker).values()
    ):
        return was
    return None


def _task(record: dict, params: PitchParams, offset: int) -> Task:
    seconds = record["num_samples"] / SAMPLING_RATE
    return Task(
        key=f"{record['split']}/{record['id']}",  # an id may repeat across splits
        args=(record["path"], record["id"], params, offset),
        time_limit=TIME_LIMIT_BASE_S + TIME_LIMIT_PER_AUDIO_S * seconds,
        memory=MEMORY_BASE_BYTES + MEMORY_PER_AUDIO_S * seconds,
    )


def make_labels(
    code: str,
    *,
    root: Path,
    params: PitchParams = DEFAULT_PARAMS,
    jobs: int | None = None,
    splits: tuple[str, ...] = SPLITS,
    fail_fast: bool = False,
    overwrite: bool = False,
    retry_failed: bool = False,
    progress: bool = True,
    flush_every: int = FLUSH_EVERY,
    start_method: str | None = None,
) -> LabelSummary:
    """Label every utterance of a gathered language that has no labels yet.

    Parameters
    ----------
    code : str
        Language code with a manifest under ``root``.
    root : Path
        Data root.
    params : PitchParams
    jobs : int or None
        Worker processes; None = every core this process may use (its CPU
        affinity, as SLURM sets it). Files are labelled in worker processes
        whatever ``jobs`` is, so a crash or a hang fails only its file.
    splits : tuple of str
    fail_fast : bool
        Stop with :class:`PitchProbeError` at the first failed file (what was
        labelled so far is kept) instead of recording it and going on.
    overwrite : bool
        Delete existing labels of ``splits`` first (of every split, if they were made with other settings).
    retry_failed : bool
        Label again the files whose earlier failure was permanent, too
        (transient failures are always retried).
    flush_every : int
        Utterances per Parquet part file: at most this many are lost if the run is killed.
    start_method : str or None
        The pool's (:func:`pitchprobe.labels.pool.run_tasks`); ``"inline"``
        labels in this process, unprotected (for debugging).

    Returns
    -------
    LabelSummary
        ``failed`` lists every failed utterance of the language, including
        permanent failures recorded by earlier runs.
    """
    with file_lock(language_lock(root, code), what=f"labels of {code}"):
        return _make_labels(
            code,
            root=root,
            params=params,
            jobs=jobs,
            splits=splits,
            fail_fast=fail_fast,
            overwrite=overwrite,
            retry_failed=retry_failed,
            progress=progress,
            flush_every=flush_every,
            start_method=start_method,
        )


def _make_labels(code: str, *, root: Path, params: PitchParams, jobs: int | None, splits: tuple[str, ...],
                 fail_fast: bool, overwrite: bool, retry_failed: bool, progress: bool, flush_every: int,
                 start_method: str | None) -> LabelSummary:  # fmt: skip
    t0 = time.perf_counter()
    records = read_manifest(root, code, splits=splits)
    require(params.tracker)  # a missing optional tracker is a message, before anything is written
    timing = tracker_timing(root, params)
    offset = int(timing["applied_offset_samples"])
    was = moved_from(root, code, params, label_timing_identity(timing))
    moved = was is not None
    if moved and not overwrite:
        raise PitchProbeError(
            f"{code}: its {params.tracker} labels are placed {placement_text(was)}, but {params.tracker} is now "
            f"placed {placement_text(label_timing_identity(timing))}: pass --overwrite to relabel, so that every "
            "label sits where it was measured"
        )
    # a timing that moved relabels every split, as other settings do: no store mixes two offsets
    prepare_store(root, code, params, overwrite=overwrite, splits=SPLITS if moved else splits)
    write_json(label_timing_path(root, code, tracker=params.tracker), timing)
    summary = LabelSummary(code=code, total=len(records))
    wanted = {(r["split"], r["id"]) for r in records}
    done: set[tuple[str, str]] = set()
    for split in splits:
        for rec in read_labels(root, code, split, tracker=params.tracker).values():
            if (split, rec.id) not in wanted:
                continue
            if rec.status == "ok":
                done.add((split, rec.id))
            elif is_permanent(rec.reason) and not retry_failed:
                done.add((split, rec.id))
                summary.failed.append({"id": rec.id, "split": split, "reason": rec.reason, "message": rec.message})
            else:
                summary.retried += 1
    todo = [r for r in records if (r["split"], r["id"]) not in done]
    summary.already_done = len(records) - len(todo)
    todo.sort(key=lambda r: -r["num_samples"])  # longest first balances the pool
    buffers: dict[str, list[dict]] = {s: [] for s in splits}
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        for split, rows in buffers.items():
            if rows:
                write_part(label_split_dir(root, code, split, tracker=params.tracker), rows, params)
                rows.clear()
        last_flush = time.monotonic()

    importlib.import_module(tracker_info(params.tracker).module)  # imported once here: forked workers start warm

    tasks = [_task(r, params, offset) for r in todo]
    record_of = {t.key: r for t, r in zip(tasks, todo)}
    jobs = jobs or available_cpus()
    if start_method == "inline":
        results = ((t, label_file(*t.args)) for t in tasks)
    else:
        results = run_tasks(label_file, tasks, jobs=jobs, start_method=start_method)
    with contextlib.closing(results):  # a stop of any kind shuts the workers down at once
        try:
            bar = tqdm(results, total=len(tasks), desc=f"pitch {code}", unit="utt", disable=not progress)
            for task, outcome in bar:
                rec = record_of[task.key]
                row = outcome
                if isinstance(outcome, TaskFailure):  # the worker died or ran out of time: no row of its own
                    row = label_row(
                        rec["id"],
                        params,
                        offset=offset,
                        status="failed",
                        reason=outcome.reason,
                        message=outcome.message,
                    )
                split = rec["split"]
                buffers[split].append(row)
                summary.computed += 1
                summary.audio_seconds += row["num_samples"] / SAMPLING_RATE
                if row["status"] != "ok":
                    failure = {"id": row["id"], "split": split, "reason": row["reason"], "message": row["message"]}
                    summary.failed.append(failure)
                    if fail_fast:
                        raise PitchProbeError(f"--fail-fast: {code} {split}/{row['id']}: {row['message']}")
                if sum(map(len, buffers.values())) >= flush_every or time.monotonic() - last_flush > FLUSH_SECONDS:
                    flush()
            flush()
        except BaseException:  # Ctrl-C, --fail-fast, a worker that cannot be replaced: keep what is finished
            with contextlib.suppress(Exception):  # the first error is the one to report
                flush()
            raise
    summary.wall_seconds = time.perf_counter() - t0
    return summary


def placement_text(placement: dict) -> str:
    """A placement (:func:`pitchprobe.core.timing.label_timing_identity`) in words."""
    rule = "at the nominal centres" if placement["placement"] == "fixed" else f"by rule {placement['placement']}"
    return f"{rule} + {placement['offset_samples']} samples"


__all__ = [
    "LabelSummary",
    "label_file",
    "label_row",
    "labels_placement",
    "make_labels",
    "moved_from",
    "placement_text",
    "tracker_timing",
]
