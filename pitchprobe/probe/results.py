"""The results schema: typed records, one writer (:func:`write_result`) and one reader (:func:`read_result`).

A probe result is JSON on disk, with ``schema_version``::

    schema_version, pitchprobe_version, created, command
    fingerprint          everything that determines the numbers (:mod:`pitchprobe.probe.fingerprint`)
    language             code, lang_id, language, lang_group, tone_class of the test language
    train_language       the language the probes were fitted on
    model                the model's identity, tag and frame geometry
    labels, probe        label parameters; probe settings (alpha, best layer chosen on dev or test)
    software             versions
    counts               per split: utterances, failed, frames, voiced_frames, dropped_frames, audio_seconds
    failures             per failed utterance: id, split, reason, message, language, phase (fit or score)
    layers               per layer, per target: voiced metrics, alpha, dev MSE (f0_all: MSE over all frames)
    baseline_train_mean  the train-mean floor, scored the same way
    predictions          the predictions Parquet file beside it, if kept
    wall_seconds         time to make this result (a transfer's fit time is ``fit_seconds``)

Files written before ``schema_version`` existed are refused with a message
saying how to recompute them, never misread.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from pitchprobe import __version__
from pitchprobe.core.atomic import write_json
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.probe.frames import Failure, SplitCounts
from pitchprobe.probe.metrics import TARGETS

SCHEMA_VERSION = 3  # 3: targets st_utt, voicing, register; within-utterance r; label trackers


class SchemaError(PitchProbeError):
    """A results file this version cannot read."""


@dataclass
class VoicedScores:
    """A target's test metrics (:data:`~pitchprobe.probe.metrics.METRICS`; None where the target has none).

    On voiced frames: RMSE in Hz and cents, r and R² in the target's units, within-utterance r, RMSE in
    semitones, log-F0 MSE. ``voicing``: balanced accuracy and ROC AUC over all frames. ``register``: over
    utterances (``voiced_frames`` then counts utterances).
    """

    voiced_frames: int = 0
    rmse_hz: float | None = None
    rmse_cents: float | None = None
    r: float | None = None
    r2: float | None = None
    r_within: float | None = None
    rmse_st: float | None = None
    mse_log: float | None = None
    balanced_accuracy: float | None = None
    auc: float | None = None


@dataclass
class TargetScores:
    """One probe (or the floor) for one target. ``f0_all`` also carries the all-frames MSE, ``voicing``
    its threshold."""

    voiced: VoicedScores = field(default_factory=VoicedScores)
    alpha: float | None = None
    threshold: float | None = None
    dev_mse: float | None = None
    train_mean: float | None = None
    mse_hz2: float | None = None
    mse_hz2_post: float | None = None
    frames: int | None = None
    mse: float | None = None  # the headline: mse_hz2, or mse_hz2_post with postprocess


@dataclass
class LayerMetrics:
    """Every target's scores for one layer (``layer`` = -1 for the train-mean floor)."""

    layer: int
    f0_all: TargetScores
    f0_voiced: TargetScores
    logf0_voiced: TargetScores
    st_utt: TargetScores
    voicing: TargetScores
    register: TargetScores

    def target(self, name: str) -> TargetScores:
        if name not in TARGETS:
            raise KeyError(name)
        return getattr(self, name)


@dataclass
class ProbeResult:
    """One probe result: probes fitted on ``train_language``, scored on ``language``'s test split."""

    fingerprint: dict
    language: dict
    train_language: str
    model: dict
    labels: dict
    probe: dict
    software: dict
    counts: dict[str, SplitCounts]
    failures: list[Failure]
    layers: list[LayerMetrics]
    baseline_train_mean: LayerMetrics
    predictions: str | None = None
    wall_seconds: float = 0.0
    fit_seconds: float | None = None
    command: list[str] = field(default_factory=list)
    created: str = ""
    pitchprobe_version: str = __version__
    schema_version: int = SCHEMA_VERSION
    output: str | None = None  # where it was written (not stored)

    @property
    def code(self) -> str:
        return self.language["code"]

    @property
    def tag(self) -> str:
        return self.model["tag"]

    def to_dict(self) -> dict:
        out = _finite(asdict(self))
        out.pop("output")
        return out

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "result") -> ProbeResult:
        version = d.get("schema_version")
        if version is None:
            raise SchemaError(
                f"{source} was written by pitchprobe before results had a schema_version (and a fingerprint); "
                "it cannot be checked against this configuration: recompute it (`study ... --overwrite`, or a new "
                "--run-dir)"
            )
        if version != SCHEMA_VERSION:
            raise SchemaError(f"{source} has results schema {version}; this pitchprobe reads schema {SCHEMA_VERSION}")
        d = dict(d)
        d.pop("output", None)
        d["counts"] = {s: SplitCounts(**c) for s, c in d["counts"].items()}
        d["failures"] = [Failure(**f) for f in d["failures"]]
        d["layers"] = [_layer(x) for x in d["layers"]]
        d["baseline_train_mean"] = _layer(d["baseline_train_mean"])
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _layer(d: dict) -> LayerMetrics:
    def target(t: dict) -> TargetScores:
        return TargetScores(**{**t, "voiced": VoicedScores(**t["voiced"])})

    return LayerMetrics(layer=d["layer"], **{t: target(d[t]) for t in TARGETS})


def _finite(obj):
    """JSON has no NaN: map non-finite floats to None, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def write_result(path: Path, result: ProbeResult) -> Path:
    """Write ``result`` as JSON to ``path``, atomically; set ``result.output``."""
    write_json(Path(path), result.to_dict())
    result.output = str(path)
    return Path(path)


def read_result(path: Path) -> ProbeResult:
    """Read a result JSON written by :func:`write_result`.

    Raises
    ------
    SchemaError
        For a file of another (or no) schema version, or one that is not a result.
    """
    try:
        d = json.loads(Path(path).read_text())
        res = ProbeResult.from_dict(d, source=str(path))
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise SchemaError(f"{path} is not a readable pitchprobe result: {type(e).__name__}: {e}") from e
    res.output = str(path)
    return res


__all__ = [
    "SCHEMA_VERSION",
    "LayerMetrics",
    "ProbeResult",
    "SchemaError",
    "TargetScores",
    "VoicedScores",
    "read_result",
    "write_result",
]
