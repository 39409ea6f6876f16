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

import time
from pathlib import Path

from pitchprobe.core.atomic import ensure_writable
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.core.layout import DEFAULT_LABELS, ResultFiles, probe_output
from pitchprobe.labels.store import label_params
from pitchprobe.models.base import Backend
from pitchprobe.probe import core
from pitchprobe.probe.fingerprint import FIT_SPLITS, ProbeSettings, probe_settings
from pitchprobe.probe.frames import RunState, iter_frames, load_records
from pitchprobe.probe.results import ProbeResult
from pitchprobe.probe.score import ScoreTarget, score_targets


def accumulate(
    code: str,
    *,
    root: Path,
    backend: Backend,
    gender: str = "all",
    fail_fast: bool = False,
    progress: bool = True,
    state: RunState | None = None,
    labels: str = DEFAULT_LABELS,
) -> dict[str, core.SplitSums]:
    """One pass over ``code``'s train then dev split: ``{"train": SplitSums, "dev": SplitSums}`` of every layer.

    The dev sums share the train sums' shifts. Raises if no training frame is usable.
    """
    records = load_records(root, code, FIT_SPLITS, gender=gender)
    state = state if state is not None else RunState()
    sums: dict[str, core.SplitSums] = {}
    for split in FIT_SPLITS:
        sums[split] = core.SplitSums(backend.hidden_sizes, like=sums.get("train"))
        kw = {"root": root, "code": code, "records": records, "state": state, "fail_fast": fail_fast, "labels": labels}
        for frames in iter_frames(backend, split=split, progress=progress, **kw):
            sums[split].add(frames)
    if state.counts["train"].frames < 2:
        raise PitchProbeError(f"{code}: no usable training frames ({len(state.failures)} utterances failed)")
    return sums


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
    labels: str = DEFAULT_LABELS,
) -> core.Probes:
    """One pass over ``code``'s train then dev split; fit every layer's probes (see :func:`run_probe`)."""
    params = label_params(root, code, tracker=labels)
    kw = {"root": root, "backend": backend, "gender": gender, "fail_fast": fail_fast, "progress": progress}
    sums = accumulate(code, state=state, labels=labels, **kw)
    return core.fit(sums["train"], sums["dev"], code=code, params=params, alpha=alpha)


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
    labels: str = DEFAULT_LABELS,
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
    labels : str
        The labels to fit and score on: a tracker's (``pyaapt``, ``pyaapt-fixed``, ``praat``, ``swift``) or
        ``consensus``.
    output : Path or None
        Results JSON; default ``<root>/results/<model_tag>/<code>.json``.
        Beside it: ``<stem>.probes.npz`` (the fitted probes), ``<stem>.predictions.parquet``
        (test predictions) and ``<stem>.stats.parquet`` (per-utterance statistics).

    Returns
    -------
    ProbeResult
        What is written to the JSON file (:mod:`pitchprobe.probe.results`).
    """
    t0 = time.perf_counter()
    files = ResultFiles(Path(output) if output else probe_output(root, backend.tag, code))
    ensure_writable(files.json.parent)  # before the long pass, not after it
    state = RunState()  # the fit's counts and failures; scoring adds the test split's
    kw = {"root": root, "backend": backend, "gender": gender, "fail_fast": fail_fast, "progress": progress}
    probes = fit_probes(code, alpha=alpha, state=state, labels=labels, **kw)
    probes.save(files.probes)
    target = ScoreTarget(probes, files, fit_state=state, predictions=save_predictions)
    settings = backend_settings(probes, root=root, backend=backend, alpha=alpha, gender=gender, postprocess=postprocess)
    run = {"root": root, "backend": backend, "fail_fast": fail_fast, "progress": progress}
    return score_targets([target], code, settings=settings, t0=t0, **run)[0]


def backend_settings(
    probes: core.Probes, *, root: Path, backend: Backend, alpha: float | None, gender: str, postprocess: bool
) -> ProbeSettings:
    """The fingerprint's inputs of a stand-alone run (no study): the backend's model, dtype and frame placement,
    the labels ``probes`` were fitted on."""
    return probe_settings(
        root=root,
        model=backend.model_identity,
        labels=probes.params,
        model_offset=backend.grid_offset,
        alpha=alpha,
        gender=gender,
        postprocess=postprocess,
        dtype=backend.dtype,
    )


__all__ = ["accumulate", "backend_settings", "fit_probes", "label_params", "run_probe"]
