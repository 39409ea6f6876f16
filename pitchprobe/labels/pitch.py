"""Stage 2: F0 labels with pYAAPT (``amfm_decompy``).

Labels are ``yaapt(...).samp_values``: one value per frame, in Hz, 0 where
unvoiced (never ``.values``, which has one value per audio sample). With
``frame_length`` = 25 ms and ``frame_space`` = 20 ms at 16 kHz, label frame
``k`` is centred at sample ``200 + 320 k``; in general where pYAAPT puts it
(its ``frames_pos``): ``fix(frame_size / 2) + k * hop``, with
``frame_size = fix(frame_length * fs / 1000)`` and ``hop = fix(frame_space * fs / 1000)``.
Settings that are not a whole number of samples are refused, since pYAAPT
would silently truncate them; :func:`track` checks every result against
``frames_pos``.

Storage: ``<data_dir>/labels/<code>/<split>/part-*.parquet``, a Parquet
dataset with one row per utterance:

=====================  ==========================================  ==========
column                 meaning                                     unit
=====================  ==========================================  ==========
id                     utterance id (manifest ``id``)
status                 ``ok`` or ``failed``
reason                 failure code (:class:`~pitchprobe.core.errors.AudioError`)
message                failure message
num_samples            audio length                                samples
sampling_rate          audio rate                                  Hz
hop_samples            label hop                                   samples
first_centre_samples   centre of label frame 0                     samples
f0_hz                  labels, float64, 0 = unvoiced               Hz
=====================  ==========================================  ==========

``labels/<code>/params.json`` records the pYAAPT settings. Part files are
written atomically every few dozen utterances, so a killed run loses at most
the utterances in flight and a rerun computes only what is missing.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from pitchprobe.core.atomic import atomic_path, write_json
from pitchprobe.core.audio import SAMPLING_RATE, check_waveform, load_audio
from pitchprobe.core.errors import AudioError, PitchProbeError
from pitchprobe.core.layout import SPLITS, label_params_path, label_split_dir, labels_dir
from pitchprobe.data.manifest import read_manifest

FRAME_LENGTH_MS = 25.0  # ms, pYAAPT analysis window
FRAME_SPACE_MS = 20.0  # ms, label hop: the HuBERT frame rate
F0_MIN_HZ = 60.0  # Hz, amfm_decompy's default
F0_MAX_HZ = 400.0  # Hz, amfm_decompy's default
FLUSH_EVERY = 32  # utterances per Parquet part file
FLUSH_SECONDS = 30.0  # s, longest wait before buffered labels are written


@dataclass(frozen=True)
class PitchParams:
    """pYAAPT settings. Times in ms, frequencies in Hz."""

    frame_length_ms: float = FRAME_LENGTH_MS
    frame_space_ms: float = FRAME_SPACE_MS
    f0_min_hz: float = F0_MIN_HZ
    f0_max_hz: float = F0_MAX_HZ

    def yaapt_kwargs(self) -> dict:
        return {
            "frame_length": self.frame_length_ms,
            "frame_space": self.frame_space_ms,
            "f0_min": self.f0_min_hz,
            "f0_max": self.f0_max_hz,
        }

    def __post_init__(self):
        for name, ms in (("frame length", self.frame_length_ms), ("frame space", self.frame_space_ms)):
            samples = ms * SAMPLING_RATE / 1000
            if not np.isfinite(samples) or samples != int(np.fix(samples)) or samples < 1:
                fixed = int(np.fix(samples)) if np.isfinite(samples) else 0
                raise PitchProbeError(
                    f"a {name} of {ms} ms is {samples:g} samples at {SAMPLING_RATE} Hz; pYAAPT truncates it to "
                    f"{fixed} samples ({fixed * 1000 / SAMPLING_RATE:g} ms), so the labels would not sit where "
                    f"asked: give a whole number of samples (a multiple of {1000 / SAMPLING_RATE:g} ms)"
                )

    @staticmethod
    def _samples(ms: float, sampling_rate: int) -> int:
        return int(np.fix(ms * sampling_rate / 1000))  # as pYAAPT: yaapt() truncates with np.fix

    def frame_size_samples(self, sampling_rate: int = SAMPLING_RATE) -> int:
        """pYAAPT's analysis window in samples (400 for 25 ms at 16 kHz)."""
        return self._samples(self.frame_length_ms, sampling_rate)

    def hop_samples(self, sampling_rate: int = SAMPLING_RATE) -> int:
        """Label hop in samples, as pYAAPT computes it (320 for 20 ms at 16 kHz)."""
        return self._samples(self.frame_space_ms, sampling_rate)

    def first_centre_samples(self, sampling_rate: int = SAMPLING_RATE) -> int:
        """Centre of label frame 0 in samples, pYAAPT's ``fix(frame_size / 2)`` (200 for 25 ms at 16 kHz)."""
        return int(np.fix(self.frame_size_samples(sampling_rate) / 2))

    def frame_centres(self, n_frames: int, sampling_rate: int = SAMPLING_RATE) -> np.ndarray:
        """(n_frames,) sample index of each label frame's centre: pYAAPT's ``frames_pos``."""
        return self.first_centre_samples(sampling_rate) + self.hop_samples(sampling_rate) * np.arange(n_frames)


def track(wav: np.ndarray, *, params: PitchParams = PitchParams(), sampling_rate: int = SAMPLING_RATE) -> np.ndarray:
    """F0 of a waveform by pYAAPT.

    Parameters
    ----------
    wav : np.ndarray
        Shape (N,), converted to float64 (pYAAPT's labels depend on the dtype).
    params : PitchParams
    sampling_rate : int
        Hz.

    Returns
    -------
    np.ndarray
        float64, shape (frames,), Hz, 0 = unvoiced; frame ``k`` centred at
        ``params.first_centre_samples() + k * params.hop_samples()``.

    Raises
    ------
    AudioError
        ``too_short``/``silent``/``not_finite``/``empty`` before pYAAPT runs,
        ``pitch_failed`` if pYAAPT itself raises.
    """
    import amfm_decompy.basic_tools as basic
    import amfm_decompy.pYAAPT as pyaapt

    wav = np.asarray(wav, dtype=np.float64)
    check_waveform(wav)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # amfm_decompy's medfilt warns on short inputs
        try:
            pitch = pyaapt.yaapt(basic.SignalObj(wav, sampling_rate), **params.yaapt_kwargs())
        except Exception as e:  # noqa: BLE001 - any failure inside pYAAPT is recorded as this file's reason
            raise AudioError("pitch_failed", f"pYAAPT failed: {type(e).__name__}: {e}") from e
    f0 = np.asarray(pitch.samp_values, dtype=np.float64)
    # the labels are placed by PitchParams' geometry: check it against where pYAAPT itself put its frames
    if not np.array_equal(np.asarray(pitch.frames_pos), params.frame_centres(f0.size, sampling_rate)):
        raise PitchProbeError(
            f"pYAAPT placed its frames at {np.asarray(pitch.frames_pos)[:3]}..., not at "
            f"{params.frame_centres(3, sampling_rate)}... as PitchParams {params} predicts"
        )
    return f0


def label_file(path: str, utt_id: str, params: PitchParams) -> dict:
    """Label one file; return its Parquet row. Failures become rows with ``status='failed'``."""
    row = {
        "id": utt_id,
        "status": "ok",
        "reason": None,
        "message": None,
        "num_samples": 0,
        "sampling_rate": SAMPLING_RATE,
        "hop_samples": params.hop_samples(),
        "first_centre_samples": params.first_centre_samples(),
        "f0_hz": None,
    }
    try:
        wav = load_audio(path)
        row["num_samples"] = int(wav.size)
        row["f0_hz"] = track(wav, params=params)
    except AudioError as e:
        row.update(status="failed", reason=e.reason, message=str(e))
    return row


def _label_task(task: tuple[str, str, PitchParams]) -> dict:
    return label_file(*task)


@dataclass
class LabelSummary:
    """Counts of one labelling run for one language."""

    code: str
    total: int = 0
    already_done: int = 0
    computed: int = 0
    failed: list[dict] = field(default_factory=list)  # {"id", "split", "reason", "message"}
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def _schema_metadata(params: PitchParams) -> dict:
    import amfm_decompy

    return {
        "pitchprobe.params": json.dumps(asdict(params)),
        "amfm_decompy": getattr(amfm_decompy, "__version__", "?"),
    }


def write_part(split_dir: Path, rows: list[dict], params: PitchParams) -> Path:
    """Write ``rows`` as a new Parquet part file of ``split_dir``, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("id", pa.string()),
            ("status", pa.string()),
            ("reason", pa.string()),
            ("message", pa.string()),
            ("num_samples", pa.int64()),
            ("sampling_rate", pa.int32()),
            ("hop_samples", pa.int32()),
            ("first_centre_samples", pa.float64()),
            ("f0_hz", pa.list_(pa.float64())),
        ],
        metadata=_schema_metadata(params),
    )
    cols = {name: [r[name] for r in rows] for name in schema.names}
    cols["f0_hz"] = [None if f is None else np.asarray(f, dtype=np.float64) for f in cols["f0_hz"]]
    table = pa.Table.from_pydict(cols, schema=schema)
    path = split_dir / f"part-{time.time_ns():020d}-{os.getpid()}.parquet"
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


@dataclass(frozen=True)
class LabelRecord:
    """Labels of one utterance as read back from disk."""

    id: str
    status: str
    reason: str | None
    message: str | None
    num_samples: int
    hop_samples: int
    first_centre_samples: float
    f0_hz: np.ndarray | None


def read_labels(root: Path, code: str, split: str) -> dict[str, LabelRecord]:
    """All label rows of a language split, ``{id: LabelRecord}`` (empty if none yet)."""
    import pyarrow.parquet as pq

    out: dict[str, LabelRecord] = {}
    for part in sorted(label_split_dir(root, code, split).glob("part-*.parquet")):
        table = pq.read_table(part)
        for row in table.to_pylist():
            f0 = row.pop("f0_hz")
            row.pop("sampling_rate")
            out[row["id"]] = LabelRecord(**row, f0_hz=None if f0 is None else np.asarray(f0, dtype=np.float64))
    return out


def _check_params(root: Path, code: str, params: PitchParams, overwrite: bool) -> None:
    pdir = labels_dir(root, code)
    path = label_params_path(root, code)
    if overwrite and pdir.exists():
        for part in pdir.glob("*/part-*.parquet"):
            part.unlink()
    if path.is_file() and not overwrite:
        stored = json.loads(path.read_text())
        if stored != asdict(params):
            raise PitchProbeError(
                f"labels in {pdir} were made with {stored}, not {asdict(params)}; "
                "pass --overwrite to recompute them, or use another --data-dir"
            )
    write_json(path, asdict(params))


def make_labels(
    code: str,
    *,
    root: Path,
    params: PitchParams = PitchParams(),
    jobs: int | None = None,
    splits: tuple[str, ...] = SPLITS,
    fail_fast: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    flush_every: int = FLUSH_EVERY,
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
        Worker processes; None = all cores, 1 = in this process.
    splits : tuple of str
    fail_fast : bool
        Stop with :class:`PitchProbeError` at the first failed file (what was
        labelled so far is kept) instead of recording it and going on.
    overwrite : bool
        Delete existing labels of this language first.
    flush_every : int
        Utterances per Parquet part file: at most this many are lost if the run is killed.

    Returns
    -------
    LabelSummary
        ``failed`` lists every failed utterance of the language, including
        failures recorded by earlier runs.
    """
    t0 = time.perf_counter()
    records = read_manifest(root, code, splits=splits)
    _check_params(root, code, params, overwrite)
    summary = LabelSummary(code=code, total=len(records))
    done: dict[str, set[str]] = {}
    for split in splits:
        existing = read_labels(root, code, split)
        done[split] = set(existing)
        for rec in existing.values():
            if rec.status != "ok":
                summary.failed.append({"id": rec.id, "split": split, "reason": rec.reason, "message": rec.message})
    todo = [r for r in records if r["id"] not in done[r["split"]]]
    summary.already_done = len(records) - len(todo)
    todo.sort(key=lambda r: -r["num_samples"])  # longest first balances the pool
    split_of = {r["id"]: r["split"] for r in todo}
    buffers: dict[str, list[dict]] = {s: [] for s in splits}
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        for split, rows in buffers.items():
            if rows:
                write_part(label_split_dir(root, code, split), rows, params)
                rows.clear()
        last_flush = time.monotonic()

    tasks = [(r["path"], r["id"], params) for r in todo]
    jobs = jobs or os.cpu_count() or 1
    import amfm_decompy.pYAAPT  # noqa: F401 - imported once here, so forked workers start warm

    pool = None
    if jobs > 1 and len(tasks) > 1:
        # fork where the platform has it: workers start at once and callers need no
        # `if __name__ == "__main__"` guard; they import nothing that forking breaks.
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        pool = multiprocessing.get_context(method).Pool(min(jobs, len(tasks)))
        results = pool.imap_unordered(_label_task, tasks, chunksize=1)
    else:
        results = map(_label_task, tasks)
    try:
        bar = tqdm(results, total=len(tasks), desc=f"pitch {code}", unit="utt", disable=not progress)
        for row in bar:
            split = split_of[row["id"]]
            buffers[split].append(row)
            summary.computed += 1
            summary.audio_seconds += row["num_samples"] / SAMPLING_RATE
            if row["status"] != "ok":
                summary.failed.append(
                    {"id": row["id"], "split": split, "reason": row["reason"], "message": row["message"]}
                )
                if fail_fast:
                    flush()
                    raise PitchProbeError(f"--fail-fast: {row['message']}")
            if sum(map(len, buffers.values())) >= flush_every or time.monotonic() - last_flush > FLUSH_SECONDS:
                flush()
        flush()
    except KeyboardInterrupt:
        flush()  # keep what is finished; a rerun resumes after it
        raise
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    summary.wall_seconds = time.perf_counter() - t0
    return summary
