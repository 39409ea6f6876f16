"""Storage of F0 labels: a Parquet dataset per language split, appended to in part files.

``<data_dir>/labels/<code>/<tracker>/<split>/part-*.parquet``, one row per utterance, for each
tracker (``pyaapt``, ``pyaapt-fixed``, ``praat``, ``swift``) and for ``consensus`` labels:

=====================  ==========================================  ==========
column                 meaning                                     unit
=====================  ==========================================  ==========
id                     utterance id (manifest ``id``)
status                 ``ok`` or ``failed``
reason                 failure code (:mod:`pitchprobe.core.errors`)
message                failure message
num_samples            audio length                                samples
sampling_rate          audio rate                                  Hz
hop_samples            label hop                                   samples
first_centre_samples   where label frame 0 sits (measured timing)  samples
f0_hz                  labels, float64, 0 = unvoiced, NaN = masked Hz
=====================  ==========================================  ==========

``labels/<code>/<tracker>/params.json`` records the settings, and ``timing.json`` the tracker's
measured frame timing (:mod:`pitchprobe.labels.calibrate`): ``first_centre_samples`` is the
nominal centre plus the applied offset. Part files are
written atomically (fsynced), and a part's name sorts after every part
written before it (its number is the time in ns, or one past the last part's
if a clock went back): when an utterance has rows in several parts (a failure
retried by a later run), the latest row is the one that counts.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pitchprobe.core.atomic import atomic_path, remove_temporary, visible_files, write_json
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.layout import DEFAULT_LABELS, label_params_path, label_split_dir, label_timing_path, labels_dir
from pitchprobe.labels.pitch import PitchParams

PART_PATTERN = "part-*.parquet"


def _schema(params: PitchParams):
    import pyarrow as pa

    metadata = {"pitchprobe.params": json.dumps(params.as_json())}
    return pa.schema(
        [
            ("id", pa.string()),
            ("status", pa.string()),
            ("reason", pa.string()),
            ("message", pa.string()),
            ("num_samples", pa.int64()),
            ("sampling_rate", pa.int32()),
            ("hop_samples", pa.int32()),
            ("first_centre_samples", pa.int64()),
            ("f0_hz", pa.list_(pa.float64())),
        ],
        metadata=metadata,
    )


def _next_number(split_dir: Path) -> int:
    """A part's number: the time in ns, but always past every existing part's, whatever the clocks do.

    Called under the language's lock, so no other writer numbers a part at the same time.
    """
    last = 0
    for part in visible_files(split_dir, PART_PATTERN) if split_dir.is_dir() else []:
        number = part.name.split("-")[1]
        last = max(last, int(number)) if number.isdigit() else last
    return max(time.time_ns(), last + 1)


def write_part(split_dir: Path, rows: list[dict], params: PitchParams) -> Path:
    """Write ``rows`` as a new Parquet part file of ``split_dir``, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema(params)
    cols = {name: [r[name] for r in rows] for name in schema.names}
    cols["f0_hz"] = [None if f is None else np.asarray(f, dtype=np.float64) for f in cols["f0_hz"]]
    table = pa.Table.from_pydict(cols, schema=schema)
    path = split_dir / f"part-{_next_number(split_dir):020d}-{os.getpid()}.parquet"
    with atomic_path(path, fsync=True) as tmp:
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
    first_centre_samples: int
    f0_hz: np.ndarray | None


def read_labels(root: Path, code: str, split: str, *, tracker: str = DEFAULT_LABELS) -> dict[str, LabelRecord]:
    """All label rows of a language split, ``{id: LabelRecord}``, the latest row of each (empty if none yet)."""
    import pyarrow.parquet as pq

    out: dict[str, LabelRecord] = {}
    for part in visible_files(label_split_dir(root, code, split, tracker=tracker), PART_PATTERN):
        for row in pq.read_table(part).to_pylist():
            f0 = row.pop("f0_hz")
            row.pop("sampling_rate")
            row["first_centre_samples"] = int(row["first_centre_samples"])  # float64 in files before 0.1
            out[row["id"]] = LabelRecord(**row, f0_hz=None if f0 is None else np.asarray(f0, dtype=np.float64))
    return out


def label_params(root: Path, code: str, *, tracker: str = DEFAULT_LABELS) -> PitchParams:
    """The parameters ``code``'s labels by ``tracker`` were made with."""
    path = label_params_path(root, code, tracker=tracker)
    if not path.is_file():
        hint = {DEFAULT_LABELS: "", "consensus": "--tracker A,B --consensus "}.get(tracker, f"--tracker {tracker} ")
        raise PitchProbeError(
            f"no {tracker} pitch labels for {code!r} in {root}: run `make_pitch_data.py {hint}{code}` first"
        )
    return PitchParams.from_json(json.loads(path.read_text()))


def label_timing(root: Path, code: str, *, tracker: str = DEFAULT_LABELS) -> dict | None:
    """The measured frame timing stored with ``code``'s labels by ``tracker`` (None if not recorded)."""
    path = label_timing_path(root, code, tracker=tracker)
    return json.loads(path.read_text()) if path.is_file() else None


def prepare_store(root: Path, code: str, params: PitchParams, *, overwrite: bool, splits: tuple[str, ...]) -> None:
    """Check ``params`` against the stored ones (or store them); clean leftovers of killed runs.

    Call it while holding the language's lock. The store is ``params.tracker``'s. ``overwrite`` deletes the
    labels of ``splits`` first, and those of every split if they were made
    with other settings (one language's labels share one ``params.json``).

    Raises
    ------
    PitchProbeError
        If labels exist that were made with other settings and not ``overwrite``.
    """
    pdir = labels_dir(root, code, tracker=params.tracker)
    path = label_params_path(root, code, tracker=params.tracker)
    remove_temporary(pdir)
    stored = PitchParams.from_json(json.loads(path.read_text())).as_json() if path.is_file() else None
    if stored is not None and stored != params.as_json() and not overwrite:
        raise PitchProbeError(
            f"labels in {pdir} were made with {stored}, not {params.as_json()}; "
            "pass --overwrite to recompute them, or use another --data-dir"
        )
    if overwrite and pdir.exists():
        every = stored is not None and stored != params.as_json()
        for part in pdir.glob(f"*/{PART_PATTERN}"):
            if every or part.parent.name in splits:
                part.unlink()
    if stored != params.as_json():
        write_json(path, params.as_json())


__all__ = ["LabelRecord", "label_params", "label_timing", "prepare_store", "read_labels", "write_part"]
