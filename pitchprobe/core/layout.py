"""The on-disk layout: the only module that builds a path under the data root or a run directory.

One data root holds downloads, manifests and labels, and the results of
ad-hoc probes (``pitchprobe probe`` / ``linear_regress.py``)::

    <data_dir>/
      audio/<code>/<split>/<file>.wav          extracted 16 kHz audio
      manifests/<code>.jsonl                   one record per utterance
      labels/<code>/<tracker>/params.json      label settings of a tracker (TRACKERS) or of consensus
      labels/<code>/<tracker>/timing.json      the tracker's measured frame timing (pitchprobe.labels.calibrate)
      labels/<code>/<tracker>/<split>/part-*.parquet  F0 labels (Parquet dataset)
      results/<model_tag>/<code>.json          ad-hoc probe results (never read by a study)
      results/<model_tag>/<code>.probes.npz
      results/<model_tag>/<code>.predictions.parquet
      states/<model_tag>/<code>/<split>/<id>.npz  (only if asked for)
      studies/default/                         a study's run directory unless --run-dir is given
      calibration/<tracker>-<key>.json         measured frame timing of a tracker (per settings)
      calibration/<tracker>-<key>.json         measured frame timing of a tracker (per settings)
      locks/<code>.lock                        held while a process gathers or labels <code>

A study's run directory (:class:`RunLayout`)::

    <run_dir>/config.json                               the study's configuration (and its fingerprint)
    <run_dir>/results/<model_tag>/<code>.json           within-language probes (+ .predictions, .stats.parquet)
    <run_dir>/transfer/<model_tag>/<train>/<test>.json  cross-lingual transfer (<train>: a language, pooled, others)
    <run_dir>/fits/<model_tag>/<code>.json              what each fit pass saw
    <run_dir>/probes/<model_tag>/<name>.npz             fitted probes: <code>, pooled, others--<code>
    <run_dir>/probes/<model_tag>/pooled.json            what the pooled probes were fitted on
    <run_dir>/sums/<model_tag>/<code>.npz               train and dev sums (--pooled; kept with --keep-sums)
    <run_dir>/models/<model_tag>.timing.json            where the model's frames were measured to sit
    <run_dir>/units/<kind>--<model_tag>--<code>.json    status of each unit
    <run_dir>/logs/                                     submitit logs
    <run_dir>/study.lock                                held while a study runs here
    <run_dir>/tables/, figures/, report.html, report.md from pitchprobe.analysis.report

The data root is, in order of precedence: the ``--data-dir`` flag, the
``PITCHPROBE_DATA_DIR`` environment variable, or ``$XDG_DATA_HOME/pitchprobe``
(``~/.local/share/pitchprobe`` when ``XDG_DATA_HOME`` is unset).
Model weights live in the libraries' own caches (Hugging Face, S3PRL/torch hub).
Temporary files of atomic writes (:func:`pitchprobe.core.atomic.is_temporary`)
and hidden folders are never results.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pitchprobe.core.atomic import visible_files

ENV_DATA_DIR = "PITCHPROBE_DATA_DIR"
SPLITS = ("train", "dev", "test")
DEFAULT_STUDY = "default"  # <data_dir>/studies/<name> when a study has no --run-dir


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data root: ``explicit``, else ``$PITCHPROBE_DATA_DIR``, else the XDG default."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return (Path(xdg) / "pitchprobe").resolve()


def audio_dir(root: Path, code: str, split: str) -> Path:
    return Path(root) / "audio" / code / split


def manifest_path(root: Path, code: str) -> Path:
    return Path(root) / "manifests" / f"{code}.jsonl"


def manifests_dir(root: Path) -> Path:
    return Path(root) / "manifests"


DEFAULT_LABELS = "pyaapt"  # the tracker whose labels are read when none is named


def labels_dir(root: Path, code: str, *, tracker: str = DEFAULT_LABELS) -> Path:
    """One tracker's labels of ``code``. pYAAPT labels made before trackers were keyed (``labels/<code>/``,
    with ``params.json`` directly in it) are still found there."""
    base = Path(root) / "labels" / code
    if tracker == DEFAULT_LABELS and (base / "params.json").is_file() and not (base / tracker).is_dir():
        return base
    return base / tracker


def label_params_path(root: Path, code: str, *, tracker: str = DEFAULT_LABELS) -> Path:
    return labels_dir(root, code, tracker=tracker) / "params.json"


def label_timing_path(root: Path, code: str, *, tracker: str = DEFAULT_LABELS) -> Path:
    return labels_dir(root, code, tracker=tracker) / "timing.json"


def label_split_dir(root: Path, code: str, split: str, *, tracker: str = DEFAULT_LABELS) -> Path:
    return labels_dir(root, code, tracker=tracker) / split


def calibration_path(root: Path, tracker: str, key: str) -> Path:
    """A tracker's timing calibration for settings ``key``, shared by every language of the data root."""
    return Path(root) / "calibration" / f"{tracker}-{key}.json"


def model_calibration_path(root: Path, model_tag: str) -> Path:
    """A model's measured frame timing, for probes run outside a study (a study keeps its own in its run dir)."""
    return Path(root) / "calibration" / "models" / f"{model_tag}.json"


def language_lock(root: Path, code: str) -> Path:
    """The lock held while one process gathers or labels ``code`` in this data root."""
    return Path(root) / "locks" / f"{code}.lock"


def results_dir(root: Path, model_tag: str) -> Path:
    """Ad-hoc probe results of one model under the data root."""
    return Path(root) / "results" / model_tag


def probe_output(root: Path, model_tag: str, code: str) -> Path:
    """``<data_dir>/results/<model_tag>/<code>.json``: where ``pitchprobe probe`` writes by default."""
    return results_dir(root, model_tag) / f"{code}.json"


def states_dir(root: Path, model_tag: str, code: str, split: str) -> Path:
    return Path(root) / "states" / model_tag / code / split


def default_run_dir(root: Path) -> Path:
    """A study's run directory when none is given: apart from the ad-hoc results."""
    return Path(root) / "studies" / DEFAULT_STUDY


@dataclass(frozen=True)
class ResultFiles:
    """A results JSON and the files written beside it."""

    json: Path

    @property
    def probes(self) -> Path:
        return self.json.with_name(self.json.stem + ".probes.npz")

    @property
    def predictions(self) -> Path:
        return self.json.with_name(self.json.stem + ".predictions.parquet")

    @property
    def stats(self) -> Path:
        """Per-utterance sufficient statistics of every layer (what the bootstrap resamples)."""
        return self.json.with_name(self.json.stem + ".stats.parquet")

    def statistics(self) -> Path | None:
        """The file the per-utterance statistics are read from: the stats file, else the predictions, else None."""
        return next((p for p in (self.stats, self.predictions) if p.is_file()), None)


@dataclass(frozen=True)
class RunLayout:
    """Paths of one study's run directory (see the module docstring)."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    def within(self, model_tag: str, code: str) -> ResultFiles:
        return ResultFiles(self.root / "results" / model_tag / f"{code}.json")

    def transfer(self, model_tag: str, train_code: str, test_code: str) -> ResultFiles:
        return ResultFiles(self.root / "transfer" / model_tag / train_code / f"{test_code}.json")

    def fit_record(self, model_tag: str, code: str) -> Path:
        """What a fit pass over ``code`` saw (fingerprint, train and dev counts, failures)."""
        return self.root / "fits" / model_tag / f"{code}.json"

    def probes(self, model_tag: str, name: str) -> Path:
        """Fitted probes: a language's own (``name`` = its code), ``pooled``, or ``others--<code>``."""
        return self.root / "probes" / model_tag / f"{name}.npz"

    def pool_record(self, model_tag: str) -> Path:
        """What the pooled and leave-one-out probes were fitted on."""
        return self.root / "probes" / model_tag / "pooled.json"

    def sums(self, model_tag: str, code: str) -> Path:
        """A language's train and dev sums, kept for the pooled probes."""
        return self.root / "sums" / model_tag / f"{code}.npz"

    def sums_dir(self, model_tag: str) -> Path:
        return self.root / "sums" / model_tag

    def model_timing(self, model_tag: str) -> Path:
        """Where a model's frames were measured to sit (:mod:`pitchprobe.models.calibrate`)."""
        return self.root / "models" / f"{model_tag}.timing.json"

    def unit_status(self, uid: str) -> Path:
        return self.root / "units" / f"{uid}.json"

    @property
    def lock(self) -> Path:
        return self.root / "study.lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def tables(self) -> Path:
        return self.root / "tables"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    @property
    def report_md(self) -> Path:
        return self.root / "report.md"

    def result_jsons(self) -> list[tuple[str, Path]]:
        """``(kind, path)`` of every result JSON: kind ``within`` or ``transfer``; temporary files never."""
        out = [("within", p) for p in visible_files(self.root / "results", "*.json", recursive=True)]
        return out + [("transfer", p) for p in visible_files(self.root / "transfer", "*.json", recursive=True)]


__all__ = [
    "DEFAULT_LABELS",
    "DEFAULT_STUDY",
    "ENV_DATA_DIR",
    "SPLITS",
    "ResultFiles",
    "RunLayout",
    "audio_dir",
    "calibration_path",
    "model_calibration_path",
    "data_dir",
    "default_run_dir",
    "label_params_path",
    "label_split_dir",
    "label_timing_path",
    "labels_dir",
    "language_lock",
    "manifest_path",
    "manifests_dir",
    "probe_output",
    "results_dir",
    "states_dir",
]
