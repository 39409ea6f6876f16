"""Stage 5: probe every layer of a model for F0, from files, in one streaming pass per split.

For each utterance, in the order train, dev, test: audio -> every layer's
hidden states (held only for this utterance) -> frames aligned to the pYAAPT
labels (:mod:`pitchprobe.probe.frames`) -> train and dev frames go into float64
sums; after dev, each layer's probes are fitted and their alpha chosen on dev
(dev is always run, so a fixed alpha still gets a dev error to choose the best
layer by); test frames are then predicted and scored. Each utterance goes
through the model once, and memory does not depend on the amount of audio.
The numerics live in :mod:`pitchprobe.probe.core`, which opens no files.
"""

from __future__ import annotations

import datetime
import json
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

from pitchprobe import __version__
from pitchprobe.core.atomic import ensure_writable
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.layout import ResultFiles, label_params_path, probe_output
from pitchprobe.data.manifest import read_manifest
from pitchprobe.labels.pitch import PitchParams
from pitchprobe.models.base import Backend
from pitchprobe.probe import core
from pitchprobe.probe.frames import RunState, iter_frames, load_records
from pitchprobe.probe.metrics import TARGETS, Scores
from pitchprobe.probe.predictions import PredictionWriter
from pitchprobe.probe.results import (
    LayerMetrics,
    ProbeResult,
    TargetScores,
    VoicedScores,
    fingerprint,
    write_result,
)

FIT_SPLITS = ("train", "dev")
SCORE_SPLITS = ("test",)


def label_params(root: Path, code: str) -> PitchParams:
    """The parameters ``code``'s labels were made with."""
    path = label_params_path(root, code)
    if not path.is_file():
        raise PitchProbeError(f"no pitch labels for {code!r} in {root}: run `make_pitch_data.py {code}` first")
    return PitchParams(**json.loads(path.read_text()))


def fit_probes(
    code: str,
    *,
    root: Path,
    backend: Backend,
    alpha: float | None = None,
    gender: str = "all",
    fail_fast: bool = False,
    progress: bool = True,
    state: RunState | None = None,
) -> core.Probes:
    """One pass over ``code``'s train then dev split; fit every layer's probes (see :func:`run_probe`)."""
    params = label_params(root, code)
    records = load_records(root, code, FIT_SPLITS, gender=gender)
    state = state if state is not None else RunState()
    sums: dict[str, core.SplitSums] = {}
    for split in FIT_SPLITS:
        sums[split] = core.SplitSums(backend.hidden_sizes, like=sums.get("train"))
        kw = {"root": root, "code": code, "records": records, "state": state, "fail_fast": fail_fast}
        for frames in iter_frames(backend, split=split, progress=progress, **kw):
            sums[split].add(frames)
    if state.counts["train"].frames < 2:
        raise PitchProbeError(f"{code}: no usable training frames ({len(state.failures)} utterances failed)")
    return core.fit(sums["train"], sums["dev"], code=code, params=params, alpha=alpha)


def score_probes(
    probes: core.Probes,
    code: str,
    *,
    root: Path,
    backend: Backend,
    pred_path: Path | None = None,
    gender: str = "all",
    fail_fast: bool = False,
    progress: bool = True,
    state: RunState | None = None,
) -> Scores:
    """Predict and score ``code``'s test split with fitted ``probes``: L layers, then the mean floor."""
    params = label_params(root, code)
    if params != probes.params:
        raise PitchProbeError(f"labels of {code} ({params}) differ from those the probes were fitted on")
    state = state if state is not None else RunState()
    records = load_records(root, code, SCORE_SPLITS, gender=gender)
    meta = {"code": code, "train_language": probes.code, "model": backend.name, "labels": _labels(params)}
    writer = PredictionWriter(pred_path, meta) if pred_path is not None else None

    def keep(frames, pred):
        writer.add(frames.id, frames.label_index, frames.f0, pred)

    ok = False
    try:
        frames = iter_frames(
            backend,
            root=root,
            code=code,
            split="test",
            records=records,
            state=state,
            fail_fast=fail_fast,
            progress=progress,
        )
        scores = core.score(probes, frames, on_utterance=keep if writer is not None else None)
        if state.counts["test"].frames == 0:
            raise PitchProbeError(
                f"{code}: no usable test frames ({state.counts['test'].failed} test utterances failed"
                + (f", gender {gender}" if gender != "all" else "")
                + ")"
            )
        ok = True
    finally:
        if writer is not None:
            writer.close(ok)
    return scores


def run_probe(
    code: str,
    *,
    root: Path,
    backend: Backend,
    alpha: float | None = None,
    gender: str = "all",
    postprocess: bool = False,
    fail_fast: bool = False,
    output: Path | None = None,
    save_predictions: bool = True,
    progress: bool = True,
) -> ProbeResult:
    """Probe every layer of ``backend`` for F0 in language ``code``; write and return the results.

    Parameters
    ----------
    code : str
        A language gathered and labelled under ``root``.
    root : Path
        Data root.
    backend : Backend
        From :func:`pitchprobe.models.load_model`.
    alpha : float or None
        Fixed ridge penalty (0 = least squares); None chooses it per layer and
        target from a grid by dev MSE. The dev split is run either way.
    gender : {"all", "female", "male", "other"}
        Use only utterances of this speaker gender.
    postprocess : bool
        Report the prototype's smoothed MSE as the headline ``mse`` (both are always stored).
    fail_fast : bool
        Raise at the first unusable utterance instead of recording it.
    output : Path or None
        Results JSON; default ``<root>/results/<model_tag>/<code>.json``.
        Beside it: ``<stem>.probes.npz`` (the fitted probes) and
        ``<stem>.predictions.parquet`` (test predictions).

    Returns
    -------
    ProbeResult
        What is written to the JSON file (:mod:`pitchprobe.probe.results`).
    """
    t0 = time.perf_counter()
    files = ResultFiles(Path(output) if output else probe_output(root, backend.tag, code))
    ensure_writable(files.json.parent)  # before the long pass, not after it
    state = RunState()
    kw = {"root": root, "backend": backend, "gender": gender, "fail_fast": fail_fast, "progress": progress}
    probes = fit_probes(code, alpha=alpha, state=state, **kw)
    probes.save(files.probes)
    return score_and_write(
        probes,
        code,
        files=files,
        state=state,
        alpha=alpha,
        postprocess=postprocess,
        save_predictions=save_predictions,
        t0=t0,
        **kw,
    )


def score_and_write(
    probes: core.Probes,
    code: str,
    *,
    root: Path,
    backend: Backend,
    files: ResultFiles,
    state: RunState,
    alpha: float | None,
    gender: str = "all",
    postprocess: bool = False,
    save_predictions: bool = True,
    fail_fast: bool = False,
    progress: bool = True,
    t0: float | None = None,
    fit_seconds: float | None = None,
) -> ProbeResult:
    """Score fitted ``probes`` on ``code``'s test split; write the result JSON, predictions beside it."""
    t0 = time.perf_counter() if t0 is None else t0
    pred_path = files.predictions if save_predictions else None
    scores = score_probes(
        probes,
        code,
        root=root,
        backend=backend,
        pred_path=pred_path,
        gender=gender,
        fail_fast=fail_fast,
        progress=progress,
        state=state,
    )
    result = build_result(
        probes=probes,
        code=code,
        root=root,
        backend=backend,
        scores=scores,
        state=state,
        alpha=alpha,
        gender=gender,
        postprocess=postprocess,
        pred_path=pred_path,
    )
    result.wall_seconds = time.perf_counter() - t0
    result.fit_seconds = fit_seconds
    write_result(files.json, result)
    return result


def _labels(params: PitchParams) -> dict:
    return {
        **params.__dict__,
        "hop_samples": params.hop_samples(),
        "first_centre_samples": params.first_centre_samples(),
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
        voiced = VoicedScores(**{k: m[t][k] for k in ("voiced_frames", "rmse_hz", "rmse_cents", "r", "r2")})
        targets[t] = TargetScores(voiced=voiced)
    a = targets["f0_all"]
    a.mse_hz2, a.mse_hz2_post, a.frames = m["f0_all"]["mse_hz2"], m["f0_all"]["mse_hz2_post"], m["f0_all"]["frames"]
    a.mse = a.mse_hz2_post if postprocess else a.mse_hz2
    return LayerMetrics(layer=layer, **targets)


def build_result(
    *,
    probes: core.Probes,
    code: str,
    root: Path,
    backend: Backend,
    scores: Scores,
    state: RunState,
    alpha: float | None,
    gender: str,
    postprocess: bool,
    pred_path: Path | None,
) -> ProbeResult:
    """The typed result of scoring ``probes`` on ``code``."""
    n_layers = len(probes.coef)
    layers = []
    for layer in range(n_layers):
        lm = _layer_metrics(scores, layer, layer, postprocess=postprocess)
        for i, t in enumerate(TARGETS):
            lm.target(t).alpha = float(probes.alpha[layer, i])
            lm.target(t).dev_mse = float(probes.dev_mse[layer, i])
        layers.append(lm)
    floor = _layer_metrics(scores, n_layers, -1, postprocess=postprocess)
    for t, m in zip(TARGETS, probes.train_mean):
        floor.target(t).train_mean = float(m)
    records = read_manifest(root, code, splits=("test", "train", "dev"))
    lang = records[0] if records else {}
    labels = _labels(probes.params)
    fp = fingerprint(
        model=backend.model_identity.as_dict(),
        labels=probes.params.__dict__,
        alpha=alpha,
        train_language=probes.code,
        test_language=code,
        gender=gender,
        fit_splits=FIT_SPLITS,
        score_splits=SCORE_SPLITS,
        seed=backend.model_identity.seed,
        postprocess=postprocess,
        dtype=backend.dtype,
    )
    return ProbeResult(
        fingerprint=fp,
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


__all__ = ["build_result", "fit_probes", "label_params", "run_probe", "score_and_write", "score_probes"]
