"""Scoring fitted probes on a test split: any number of probes in one pass, each result written.

:func:`score_targets` runs ``code``'s test split through the model once and scores every
:class:`ScoreTarget` on it (:func:`pitchprobe.probe.core.score_many`): a language's own probe, other
languages' (transfer), pooled ones. Each target gets its result JSON, its per-utterance statistics
(``.stats.parquet``, from which every metric and the bootstrap follow) and, where asked, its frame
predictions (``.predictions.parquet``).
"""

from __future__ import annotations

import copy
import datetime
import platform
import sys
import time
from dataclasses import dataclass, field, fields
from importlib import metadata
from pathlib import Path

from pitchprobe import __version__
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.layout import ResultFiles
from pitchprobe.core.timing import label_timing_identity
from pitchprobe.data.manifest import read_manifest
from pitchprobe.labels.make import placement_text
from pitchprobe.labels.pitch import PitchParams
from pitchprobe.labels.store import label_params, label_timing
from pitchprobe.models.base import Backend
from pitchprobe.probe import core
from pitchprobe.probe.fingerprint import FIT_SPLITS, SCORE_SPLITS, ProbeSettings
from pitchprobe.probe.frames import RunState, iter_frames, load_records
from pitchprobe.probe.metrics import METRICS, TARGETS, Scores
from pitchprobe.probe.predictions import PredictionWriter, StatsWriter
from pitchprobe.probe.results import LayerMetrics, ProbeResult, TargetScores, VoicedScores, write_result

VOICED = {f.name for f in fields(VoicedScores)}


@dataclass
class ScoreTarget:
    """One probe to score, and where its result goes.

    Attributes
    ----------
    probes : Probes
        Fitted probes of every layer.
    files : ResultFiles
        The result JSON, with its statistics and predictions beside it.
    fit_state : RunState
        Train and dev counts and the failures of the fit (copied into the result).
    predictions : bool
        Keep the frame predictions too (statistics are always kept).
    fit_seconds : float or None
        The fit's time, recorded in the result.
    pooled_languages : list of str or None
        For a pooled probe: the languages it was fitted on (part of the fingerprint).
    notes : dict
        Recorded in the result's ``probe`` section.
    """

    probes: core.Probes
    files: ResultFiles
    fit_state: RunState = field(default_factory=RunState)
    predictions: bool = True
    fit_seconds: float | None = None
    pooled_languages: list[str] | None = None
    notes: dict = field(default_factory=dict)


def _meta(code: str, target: ScoreTarget, backend: Backend, placement: dict) -> dict:
    p = target.probes
    return {
        "code": code,
        "train_language": p.code,
        "model": backend.name,
        "labels": _labels(p.params, placement=placement),
        "voicing_threshold": [float(x) for x in p.threshold],  # per layer: what the voicing statistics used
    }


def score_targets(
    targets: list[ScoreTarget],
    code: str,
    *,
    root: Path,
    backend: Backend,
    settings: ProbeSettings,
    fail_fast: bool = False,
    progress: bool = True,
    t0: float | None = None,
) -> list[ProbeResult]:
    """Score every target on ``code``'s test split in one pass through the model; write and return the results.

    Each result records the fingerprint of ``settings`` (:mod:`pitchprobe.probe.fingerprint`), which the caller
    made from its configuration; they are checked against the labels and the backend used. Nothing is written
    unless the whole pass succeeds; raises when no test frame is usable.
    """
    t0 = time.perf_counter() if t0 is None else t0
    gender = settings.gender
    labels = targets[0].probes.params.tracker
    params = label_params(root, code, tracker=labels)
    _check_settings(settings, code, root=root, params=params, backend=backend)
    for t in targets:
        if t.probes.params != params:
            raise PitchProbeError(
                f"labels of {code} ({params}) differ from those {t.probes.code}'s probes were fitted on"
            )
    state = RunState()
    records = load_records(root, code, SCORE_SPLITS, gender=gender)
    n_layers = len(targets[0].probes.coef)
    writers: list[StatsWriter] = []
    preds: dict[int, PredictionWriter] = {}

    def keep(frames, pred_of, sums):
        for i, w in enumerate(writers):
            w.add(frames.id, sums[i], layers=n_layers)
        for i, w in preds.items():
            w.add(frames.id, frames.label_index, frames.centre_samples, frames.f0, list(pred_of(i)))

    ok = False
    try:
        for i, t in enumerate(targets):
            writers.append(StatsWriter(t.files.stats, _meta(code, t, backend, settings.labels_timing)))
            if t.predictions:
                preds[i] = PredictionWriter(t.files.predictions, _meta(code, t, backend, settings.labels_timing))
        frames = iter_frames(
            backend,
            root=root,
            code=code,
            split="test",
            records=records,
            state=state,
            fail_fast=fail_fast,
            progress=progress,
            labels=labels,
        )
        scores = core.score_many([t.probes for t in targets], frames, on_utterance=keep)
        if state.counts["test"].frames == 0:
            raise PitchProbeError(
                f"{code}: no usable test frames ({state.counts['test'].failed} test utterances failed"
                + (f", gender {gender}" if gender != "all" else "")
                + ")"
            )
        ok = True
    finally:
        for w in [*writers, *preds.values()]:
            w.close(ok)
    out = []
    for i, (t, sc) in enumerate(zip(targets, scores)):
        full = RunState()
        full.counts.update({s: copy.copy(t.fit_state.counts[s]) for s in FIT_SPLITS})
        full.counts["test"] = copy.copy(state.counts["test"])
        full.failures = [*t.fit_state.failures, *state.failures]
        result = build_result(
            probes=t.probes,
            code=code,
            root=root,
            backend=backend,
            scores=sc,
            state=full,
            settings=settings,
            pred_path=t.files.predictions if i in preds else None,
            pooled_languages=t.pooled_languages,
            probe_notes=t.notes,
        )
        result.wall_seconds = time.perf_counter() - t0
        result.fit_seconds = t.fit_seconds
        write_result(t.files.json, result)
        out.append(result)
    return out


def _check_settings(settings: ProbeSettings, code: str, *, root: Path, params: PitchParams, backend: Backend) -> None:
    """Refuse to record ``settings`` in results they would misdescribe: labels made or placed otherwise, or model
    frames placed elsewhere, than they say."""
    problems = []
    if params.as_json() != settings.labels.as_json():
        problems.append(f"its labels were made with {params.as_json()}, not {settings.labels.as_json()}")
    stored = label_timing(root, code, tracker=params.tracker)
    if not params.sources and stored is not None and label_timing_identity(stored) != settings.labels_timing:
        problems.append(
            f"its {params.tracker} labels are placed {placement_text(label_timing_identity(stored))}, not "
            f"{placement_text(settings.labels_timing)} (relabel it with --overwrite)"
        )
    if float(backend.grid_offset) != settings.model_offset:
        problems.append(f"the model's frames are placed {backend.grid_offset} samples off, not {settings.model_offset}")
    if backend.dtype != settings.dtype:
        problems.append(f"the model runs in {backend.dtype}, not {settings.dtype}")
    if problems:
        raise PitchProbeError(f"{code}: cannot score: " + "; ".join(problems))


def _labels(params: PitchParams, *, placement: dict, timing: dict | None = None) -> dict:
    """The label settings a result or predictions file records: the nominal grid and how the labels are placed
    (each utterance's placed centres: its labels' ``first_centre_samples``, the predictions' ``centre_samples``)."""
    return {
        **params.as_json(),
        "hop_samples": params.hop_samples(),
        "nominal_first_centre_samples": params.first_centre_samples(),
        "placement": placement,
        "positions": "per utterance: first_centre_samples of its labels; centre_samples of each prediction",
        "timing": timing,
    }


def _versions() -> dict:
    out = {"python": platform.python_version(), "pitchprobe": __version__}
    for pkg in ("numpy", "torch", "transformers", "espnet-s3prl", "amfm_decompy", "soundfile", "pyarrow"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _layer_metrics(scores: Scores, index: int, layer: int, *, postprocess: bool) -> LayerMetrics:
    m = scores.metrics(index)
    targets = {}
    for t in TARGETS:
        voiced = VoicedScores(voiced_frames=m[t]["voiced_frames"], **{k: m[t][k] for k in METRICS[t] if k in VOICED})
        targets[t] = TargetScores(voiced=voiced)
    a = targets["f0_all"]
    a.mse_hz2, a.mse_hz2_post, a.frames = m["f0_all"]["mse_hz2"], m["f0_all"]["mse_hz2_post"], m["f0_all"]["frames"]
    a.mse = a.mse_hz2_post if postprocess else a.mse_hz2
    targets["voicing"].frames = m["voicing"]["frames"]  # voicing is scored on every frame, voiced or not
    return LayerMetrics(layer=layer, **targets)


def build_result(
    *,
    probes: core.Probes,
    code: str,
    root: Path,
    backend: Backend,
    scores: Scores,
    state: RunState,
    settings: ProbeSettings,
    pred_path: Path | None,
    pooled_languages: list[str] | None = None,
    probe_notes: dict | None = None,
) -> ProbeResult:
    """The typed result of scoring ``probes`` on ``code`` (``pooled_languages``: of a pooled probe's fit), with
    the fingerprint of ``settings``."""
    alpha, gender, postprocess = settings.alpha, settings.gender, settings.postprocess
    n_layers = len(probes.coef)
    layers = []
    for layer in range(n_layers):
        lm = _layer_metrics(scores, layer, layer, postprocess=postprocess)
        for i, t in enumerate(TARGETS):
            lm.target(t).alpha = float(probes.alpha[layer, i])
            lm.target(t).dev_mse = float(probes.dev_mse[layer, i])
        lm.voicing.threshold = float(probes.threshold[layer])
        layers.append(lm)
    floor = _layer_metrics(scores, n_layers, -1, postprocess=postprocess)
    for t, m in zip(TARGETS, probes.train_mean):
        floor.target(t).train_mean = float(m)
    records = read_manifest(root, code, splits=("test", "train", "dev"))
    lang = records[0] if records else {}
    timing = label_timing(root, code, tracker=probes.params.tracker)
    labels = _labels(probes.params, placement=settings.labels_timing, timing=timing)
    return ProbeResult(
        fingerprint=settings.fingerprint(
            train_language=probes.code, test_language=code, pooled_languages=pooled_languages
        ),
        language={"code": code, **{k: lang.get(k) for k in ("lang_id", "language", "lang_group", "tone_class")}},
        train_language=probes.code,
        model=backend.describe(),
        labels=labels,
        probe={
            "targets": list(TARGETS),
            "alpha": "dev-grid" if alpha is None else alpha,
            "has_dev": probes.has_dev,
            "best_layer_chosen_on": "dev" if probes.has_dev else "test",
            "gender": gender,
            "postprocess": postprocess,
            "alignment": "nearest model frame centre within half a model hop (see pitchprobe.core.align)",
            **(probe_notes or {}),
        },
        software=_versions(),
        counts=dict(state.counts),
        failures=list(state.failures),
        layers=layers,
        baseline_train_mean=floor,
        predictions=str(pred_path) if pred_path is not None else None,
        command=list(sys.argv),
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )


__all__ = ["ScoreTarget", "build_result", "score_targets"]
