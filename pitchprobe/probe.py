"""Stage 5: probe every layer of a model for F0, in one streaming pass.

For each utterance, in the order train, dev, test: audio -> every layer's
hidden states (held only for this utterance) -> frames aligned to the pYAAPT
labels (:mod:`pitchprobe.align`) -> train and dev frames go into float64 sums
(:mod:`pitchprobe.ridge`); after dev, each layer's probes are fitted and their
alpha chosen on dev; test frames are then predicted and scored
(:mod:`pitchprobe.metrics`). Each utterance goes through the model once, and
memory does not depend on the amount of audio.

Targets (one probe per layer and target):

- ``f0_all``: F0 in Hz on every frame, unvoiced = 0 (the prototype's target);
- ``f0_voiced``: F0 in Hz, voiced frames only;
- ``logf0_voiced``: natural-log F0, voiced frames only.

A train-mean predictor of each target is scored the same way, as the floor.
"""

from __future__ import annotations

import datetime
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import __version__, ridge
from .align import FrameGrid, align
from .atomic import atomic_path, write_json
from .audio import SAMPLING_RATE, load_audio
from .errors import AudioError, PitchProbeError
from .manifest import read_manifest
from .metrics import FitSums, VoicedMetrics, smooth_prototype
from .models.base import Backend
from .paths import labels_dir, results_dir, safe_tag
from .pitch import LabelRecord, PitchParams, read_labels

TARGETS = ("f0_all", "f0_voiced", "logf0_voiced")
PROBE_SPLITS = ("train", "dev", "test")
PREDICTION_FLUSH = 64  # utterances per Parquet row group of test predictions


def model_tag(backend: Backend) -> str:
    """Folder name of a model's results: the name made file-safe, ``-random`` for the control."""
    return safe_tag(backend.name) + ("-random" if backend.random_init else "")


def default_output(root: Path, code: str, backend: Backend) -> Path:
    """``<data_dir>/results/<model_tag>/<code>.json``."""
    return results_dir(root, model_tag(backend)) / f"{code}.json"


@dataclass
class Utterance:
    record: dict
    label: LabelRecord


@dataclass
class SplitCounts:
    utterances: int = 0
    failed: int = 0
    frames: int = 0
    voiced_frames: int = 0
    dropped_frames: int = 0
    audio_seconds: float = 0.0


@dataclass
class _State:
    failures: list[dict] = field(default_factory=list)
    counts: dict[str, SplitCounts] = field(default_factory=lambda: {s: SplitCounts() for s in PROBE_SPLITS})


def _utterances(root: Path, code: str, split: str, records: list[dict], state: _State) -> list[Utterance]:
    labels = read_labels(root, code, split)
    out = []
    for rec in records:
        if rec["split"] != split:
            continue
        lab = labels.get(rec["id"])
        if lab is None:
            state.failures.append(
                {
                    "id": rec["id"],
                    "split": split,
                    "reason": "no_labels",
                    "message": "no pitch labels for this file",
                }
            )
        elif lab.status != "ok":
            state.failures.append({"id": rec["id"], "split": split, "reason": lab.reason, "message": lab.message})
        else:
            out.append(Utterance(rec, lab))
            continue
        state.counts[split].failed += 1
    return out


def iter_states(backend: Backend, utts: list[Utterance], *, split: str, state: _State, fail_fast: bool, progress: bool):
    """Yield ``(utterance, states)`` with ``states[l]`` (T, D_l) on the model's device; failures are recorded."""
    bar = tqdm(total=len(utts), desc=f"{split:>5}", unit="utt", disable=not progress, leave=False)
    for start in range(0, len(utts), backend.batch_size):
        batch, wavs = [], []
        for u in utts[start : start + backend.batch_size]:
            try:
                wavs.append(load_audio(u.record["path"]))
                batch.append(u)
            except AudioError as e:
                if fail_fast:
                    raise PitchProbeError(f"--fail-fast: {e}") from e
                state.failures.append({"id": u.record["id"], "split": split, "reason": e.reason, "message": str(e)})
                state.counts[split].failed += 1
        if batch:
            for u, states in zip(batch, backend.forward(wavs)):
                yield u, states
        bar.update(len(utts[start : start + backend.batch_size]))
    bar.close()


def _targets(f0: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(T, 3) float64 targets [f0, f0, log f0] (0 where unvoiced) and the (T,) voiced mask."""
    voiced = f0 > 0
    logf0 = np.zeros_like(f0)
    logf0[voiced] = np.log(f0[voiced])
    y = np.stack([f0, np.where(voiced, f0, 0.0), logf0], axis=1)
    return torch.as_tensor(y, device=device), torch.as_tensor(voiced, device=device)


class _LayerSums:
    """Train or dev sums of one layer, split by voicing (all frames = voiced + unvoiced)."""

    def __init__(self, dim: int, shift: torch.Tensor):
        self.voiced = ridge.Sums(dim, 3, shift)
        self.unvoiced = ridge.Sums(dim, 3, shift)

    def add(self, x: torch.Tensor, y: torch.Tensor, voiced: torch.Tensor) -> None:
        self.voiced.add(x[voiced], y[voiced])
        self.unvoiced.add(x[~voiced], y[~voiced])

    def all_frames(self) -> ridge.Sums:
        """Sums of the ``f0_all`` target (column 0) over every frame."""
        return (self.voiced + self.unvoiced).columns(slice(0, 1))

    def voiced_targets(self) -> ridge.Sums:
        """Sums of ``f0_voiced`` and ``logf0_voiced`` (columns 1, 2): one ``XᵀX``, one eigendecomposition."""
        return self.voiced.columns(slice(1, 3))


def _grid_of(label: LabelRecord) -> FrameGrid:
    return FrameGrid(first=label.first_centre_samples, hop=float(label.hop_samples))


def _aligned(backend: Backend, u: Utterance, states, counts: SplitCounts):
    f0 = u.label.f0_hz
    n_model = int(states[0].shape[0])
    al = align(n_labels=f0.size, label_grid=_grid_of(u.label), n_model=n_model, model_grid=backend.grid)
    y = f0[al.label_index]
    counts.utterances += 1
    counts.frames += int(y.size)
    counts.voiced_frames += int((y > 0).sum())
    counts.dropped_frames += al.dropped
    counts.audio_seconds += u.label.num_samples / SAMPLING_RATE
    idx = torch.as_tensor(al.model_index, device=states[0].device)
    return al, y, [h.index_select(0, idx) for h in states]


class _Scores:
    """Streaming test metrics of one layer (or of the mean floor)."""

    def __init__(self, params: PitchParams):
        self.floor = params.f0_min_hz
        self.all = FitSums()
        self.all_post = FitSums()
        self.voiced = {t: VoicedMetrics(f0_min=params.f0_min_hz, f0_max=params.f0_max_hz) for t in TARGETS}

    def add(self, pred: np.ndarray, f0: np.ndarray) -> None:
        """``pred`` (T, 3) predictions of the three probes, ``f0`` (T,) labels in Hz."""
        self.all.add(pred[:, 0], f0)
        self.all_post.add(smooth_prototype(pred[:, 0], floor_hz=self.floor), f0)
        v = f0 > 0
        yv = f0[v]
        self.voiced["f0_all"].add(pred=pred[v, 0], y=yv, pred_hz=pred[v, 0], y_hz=yv)
        self.voiced["f0_voiced"].add(pred=pred[v, 1], y=yv, pred_hz=pred[v, 1], y_hz=yv)
        self.voiced["logf0_voiced"].add(pred=pred[v, 2], y=np.log(yv), pred_hz=np.exp(pred[v, 2]), y_hz=yv)

    def result(self) -> dict:
        out = {t: {"voiced": self.voiced[t].result()} for t in TARGETS}
        out["f0_all"]["mse_hz2"] = self.all.mse()
        out["f0_all"]["mse_hz2_post"] = self.all_post.mse()
        out["f0_all"]["frames"] = self.all.n
        return out


def _versions() -> dict:
    out = {"python": platform.python_version(), "pitchprobe": __version__}
    for pkg in ("numpy", "torch", "transformers", "espnet-s3prl", "amfm_decompy", "soundfile", "pyarrow"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


class _PredictionWriter:
    """Test predictions per utterance and layer, streamed to a Parquet file (renamed into place at the end)."""

    def __init__(self, path: Path, meta: dict):
        import pyarrow as pa

        self.path = path
        self.schema = pa.schema(
            [
                ("id", pa.string()),
                ("layer", pa.int32()),
                ("label_index", pa.list_(pa.int32())),
                ("f0_hz", pa.list_(pa.float32())),
                *[(f"pred_{t}", pa.list_(pa.float32())) for t in TARGETS],
            ],
            metadata={"pitchprobe": json.dumps(meta)},
        )
        self.rows: list[dict] = []
        self._ctx = atomic_path(path)
        self.tmp = self._ctx.__enter__()
        self.writer = None

    def add(self, utt_id: str, label_index: np.ndarray, f0: np.ndarray, preds: list[np.ndarray]) -> None:
        for layer, p in enumerate(preds):
            self.rows.append(
                {
                    "id": utt_id,
                    "layer": layer,
                    "label_index": label_index.astype(np.int32),
                    "f0_hz": f0.astype(np.float32),
                    **{f"pred_{t}": p[:, i].astype(np.float32) for i, t in enumerate(TARGETS)},
                }
            )
        if len(self.rows) >= PREDICTION_FLUSH * max(1, len(preds)):
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.rows:
            return
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.tmp, self.schema)
        self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
        self.rows.clear()

    def close(self, ok: bool) -> None:
        if ok:
            self._flush()
            if self.writer is None:
                import pyarrow.parquet as pq

                pq.write_table(self.schema.empty_table(), self.tmp)
        if self.writer is not None:
            self.writer.close()
        if ok:
            self._ctx.__exit__(None, None, None)
        else:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)


@dataclass
class Probes:
    """Fitted probes of every layer for the three targets, plus what they were fitted on.

    Attributes
    ----------
    code : str
        Training language.
    coef : list of np.ndarray
        Per layer, float64 (D_l, 3): weights on the features for each target.
    intercept : np.ndarray
        float64 (L, 3).
    alpha : np.ndarray
        (L, 3) chosen (or fixed) ridge penalties.
    dev_mse : np.ndarray
        (L, 3) dev MSE at the chosen alpha (NaN without dev frames).
    train_mean : np.ndarray
        (3,) train means of the targets: the floor predictor.
    """

    code: str
    params: PitchParams
    coef: list[np.ndarray]
    intercept: np.ndarray
    alpha: np.ndarray
    dev_mse: np.ndarray
    train_mean: np.ndarray

    def save(self, path: Path) -> None:
        """Write the probes as ``.npz`` (``coef_<l>``, ``intercept``, ``alpha``, ``dev_mse``, ``train_mean``)."""
        arrays = {f"coef_{i}": c for i, c in enumerate(self.coef)}
        with atomic_path(path) as tmp:
            np.savez(
                tmp,
                **arrays,
                intercept=self.intercept,
                alpha=self.alpha,
                dev_mse=self.dev_mse,
                train_mean=self.train_mean,
                targets=np.array(TARGETS),
                code=np.array(self.code),
                params=np.array(json.dumps(self.params.__dict__)),
            )


def _label_params(root: Path, code: str) -> PitchParams:
    path = labels_dir(root, code) / "params.json"
    if not path.is_file():
        raise PitchProbeError(f"no pitch labels for {code!r} in {root}: run `make_pitch_data.py {code}` first")
    return PitchParams(**json.loads(path.read_text()))


def fit_probes(
    code: str,
    *,
    root: Path,
    backend: Backend,
    alpha: float | None = None,
    fail_fast: bool = False,
    progress: bool = True,
    state: _State | None = None,
) -> Probes:
    """One pass over ``code``'s train then dev split; fit every layer's probes (see :func:`run_probe`)."""
    params = _label_params(root, code)
    records = read_manifest(root, code, splits=("train", "dev"))
    state = state if state is not None else _State()
    dev = backend.device
    layers = range(backend.num_layers)
    sums: dict[str, list[_LayerSums]] = {}
    shifts: list[torch.Tensor | None] = [None] * backend.num_layers
    # with a fixed alpha the dev split chooses nothing, so it is not run through the model
    for split in ("train", "dev") if alpha is None else ("train",):
        sums[split] = []
        utts = _utterances(root, code, split, records, state)
        for u, states in iter_states(backend, utts, split=split, state=state, fail_fast=fail_fast, progress=progress):
            _, f0, xs = _aligned(backend, u, states, state.counts[split])
            y, voiced = _targets(f0, dev)
            for layer in layers:
                if shifts[layer] is None:
                    shifts[layer] = xs[layer].to(torch.float64).mean(0)
                if len(sums[split]) <= layer:
                    sums[split].append(_LayerSums(backend.hidden_sizes[layer], shifts[layer]))
                sums[split][layer].add(xs[layer], y, voiced)
    sums.setdefault("dev", [])
    if not sums["train"] or state.counts["train"].frames < 2:
        raise PitchProbeError(f"{code}: no usable training frames ({len(state.failures)} utterances failed)")

    coef, intercept, alphas, dev_mse = [], [], [], []
    for layer in layers:
        train, dev_sums = sums["train"][layer], (sums["dev"][layer] if sums["dev"] else None)
        sols, mses = [], []
        for part in ("all_frames", "voiced_targets"):
            try:
                sol, grid_mse = ridge.choose(
                    getattr(train, part)(), getattr(dev_sums, part)() if dev_sums else None, alpha=alpha
                )
            except ValueError as e:
                raise PitchProbeError(f"{code}, layer {layer}: {e}") from e
            sols.append(sol)
            mses.append(
                np.nanmin(grid_mse, axis=0) if not np.isnan(grid_mse).all() else np.full(grid_mse.shape[1], np.nan)
            )
        coef.append(np.concatenate([sol.coef.T for sol in sols], axis=1))  # (D, 3)
        intercept.append(np.concatenate([sol.intercept for sol in sols]))
        alphas.append(np.concatenate([sol.alphas for sol in sols]))
        dev_mse.append(np.concatenate(mses))
    train_all = sums["train"][0].all_frames()
    train_v = sums["train"][0].voiced
    means = np.array(
        [float(train_all.sy[0]) / train_all.n, *(float(train_v.sy[q]) / max(train_v.n, 1) for q in (1, 2))]
    )
    return Probes(code, params, coef, np.array(intercept), np.array(alphas), np.array(dev_mse), means)


def score_probes(
    probes: Probes,
    code: str,
    *,
    root: Path,
    backend: Backend,
    pred_path: Path | None = None,
    fail_fast: bool = False,
    progress: bool = True,
    state: _State | None = None,
) -> tuple[list[_Scores], _Scores]:
    """Predict and score ``code``'s test split with fitted ``probes``: (per-layer scores, mean floor)."""
    params = _label_params(root, code)
    if params != probes.params:
        raise PitchProbeError(f"labels of {code} ({params}) differ from those the probes were fitted on")
    state = state if state is not None else _State()
    records = read_manifest(root, code, splits=("test",))
    layers = range(backend.num_layers)
    coefs = [torch.as_tensor(c, device=backend.device) for c in probes.coef]
    scores = [_Scores(params) for _ in layers]
    floor = _Scores(params)
    meta = {"code": code, "train_language": probes.code, "model": backend.name, "labels": params.__dict__}
    writer = _PredictionWriter(pred_path, meta) if pred_path is not None else None
    ok = False
    try:
        utts = _utterances(root, code, "test", records, state)
        for u, states in iter_states(backend, utts, split="test", state=state, fail_fast=fail_fast, progress=progress):
            al, f0, xs = _aligned(backend, u, states, state.counts["test"])
            preds = [
                (xs[layer].to(torch.float64) @ coefs[layer]).cpu().numpy() + probes.intercept[layer] for layer in layers
            ]
            for layer in layers:
                scores[layer].add(preds[layer], f0)
            floor.add(np.broadcast_to(probes.train_mean, (f0.size, 3)), f0)
            if writer is not None:
                writer.add(u.record["id"], al.label_index, f0, preds)
        ok = True
    finally:
        if writer is not None:
            writer.close(ok)
    return scores, floor


def run_probe(
    code: str,
    *,
    root: Path,
    backend: Backend,
    alpha: float | None = None,
    postprocess: bool = False,
    fail_fast: bool = False,
    output: Path | None = None,
    save_predictions: bool = True,
    progress: bool = True,
) -> dict:
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
        target from a grid by dev MSE.
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
    dict
        What is written to the JSON file (see the README for its fields).
    """
    t0 = time.perf_counter()
    output = Path(output) if output else default_output(root, code, backend)
    state = _State()
    probes = fit_probes(
        code, root=root, backend=backend, alpha=alpha, fail_fast=fail_fast, progress=progress, state=state
    )
    probes.save(output.with_name(output.stem + ".probes.npz"))
    return score_and_write(
        probes,
        code,
        root=root,
        backend=backend,
        output=output,
        state=state,
        alpha=alpha,
        postprocess=postprocess,
        save_predictions=save_predictions,
        fail_fast=fail_fast,
        progress=progress,
        t0=t0,
    )


def score_and_write(
    probes: Probes,
    code: str,
    *,
    root: Path,
    backend: Backend,
    output: Path,
    state: _State,
    alpha: float | None,
    postprocess: bool = False,
    save_predictions: bool = True,
    fail_fast: bool = False,
    progress: bool = True,
    t0: float | None = None,
) -> dict:
    """Score fitted ``probes`` on ``code``'s test split; write the results JSON to ``output``, predictions beside."""
    t0 = time.perf_counter() if t0 is None else t0
    pred_path = output.with_name(output.stem + ".predictions.parquet") if save_predictions else None
    scores, floor = score_probes(
        probes,
        code,
        root=root,
        backend=backend,
        pred_path=pred_path,
        fail_fast=fail_fast,
        progress=progress,
        state=state,
    )
    result = result_record(
        probes=probes,
        code=code,
        root=root,
        backend=backend,
        scores=scores,
        floor=floor,
        state=state,
        alpha=alpha,
        postprocess=postprocess,
        pred_path=pred_path,
    )
    result["wall_seconds"] = time.perf_counter() - t0
    write_json(output, _finite(result))
    result["output"] = str(output)
    return result


def result_record(
    *,
    probes: Probes,
    code: str,
    root: Path,
    backend: Backend,
    scores: list[_Scores],
    floor: _Scores,
    state: _State,
    alpha: float | None,
    postprocess: bool,
    pred_path: Path | None,
) -> dict:
    """The results dict written as JSON (fields in the README)."""
    layer_results = []
    for layer, sc in enumerate(scores):
        res = sc.result()
        for i, t in enumerate(TARGETS):
            res[t]["alpha"] = float(probes.alpha[layer, i])
            res[t]["dev_mse"] = float(probes.dev_mse[layer, i])
        res["f0_all"]["mse"] = res["f0_all"]["mse_hz2_post" if postprocess else "mse_hz2"]
        layer_results.append({"layer": layer, **res})
    base = floor.result()
    base["f0_all"]["mse"] = base["f0_all"]["mse_hz2_post" if postprocess else "mse_hz2"]
    for t, m in zip(TARGETS, probes.train_mean):
        base[t]["train_mean"] = float(m)
    records = read_manifest(root, code, splits=("test", "train", "dev"))
    lang = records[0] if records else {}
    params = probes.params
    return {
        "pitchprobe_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "language": {k: lang.get(k) for k in ("code", "lang_id", "language", "lang_group", "tone_class")},
        "train_language": probes.code,
        "model": backend.describe(),
        "labels": {
            **params.__dict__,
            "hop_samples": params.hop_samples(),
            "first_centre_samples": params.first_centre_samples(),
        },
        "probe": {
            "targets": list(TARGETS),
            "alpha": "dev-grid" if alpha is None else alpha,
            "postprocess": postprocess,
            "alignment": "nearest model frame centre within half a model hop (see pitchprobe.align)",
        },
        "software": _versions(),
        "counts": {s: c.__dict__ for s, c in state.counts.items()},
        "failures": state.failures,
        "layers": layer_results,
        "baseline_train_mean": base,
        "predictions": str(pred_path) if pred_path is not None else None,
    }


def _finite(obj):
    """JSON has no NaN: map non-finite floats to None, recursively."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def format_table(result: dict) -> str:
    """The per-layer table printed by ``linear_regress.py``."""
    head = (
        f"{'layer':>5} | {'MSE Hz²':>9} | {'Hz-probe (voiced):':<18} {'RMSE Hz':>7} {'cents':>6} {'r':>6} {'R²':>6}"
        f" | {'logF0-probe:':<12} {'cents':>6} {'r':>6} | {'alpha':>8}"
    )
    lines = [head, "-" * len(head)]

    def fmt(x, spec):
        return format(x, spec) if x is not None else " " * (int(spec.split(".")[0].lstrip(">")) - 1) + "-"

    rows = [(str(r["layer"]), r) for r in result["layers"]] + [("mean", result["baseline_train_mean"])]
    for name, r in rows:
        v, lg = r["f0_voiced"]["voiced"], r["logf0_voiced"]["voiced"]
        alpha = r["f0_all"].get("alpha")
        lines.append(
            f"{name:>5} | {fmt(r['f0_all']['mse'], '>9.1f')} | {'':<18} {fmt(v['rmse_hz'], '>7.2f')} "
            f"{fmt(v['rmse_cents'], '>6.1f')} {fmt(v['r'], '>6.3f')} {fmt(v['r2'], '>6.3f')} | {'':<12} "
            f"{fmt(lg['rmse_cents'], '>6.1f')} {fmt(lg['r'], '>6.3f')} | {fmt(alpha, '>8.2g')}"
        )
    return "\n".join(lines)


def prototype_line(result: dict) -> str:
    """The prototype's output: per-layer test MSE (Hz², all frames) tab-separated, then ``lang_id: N``."""
    mses = "\t".join(f"{r['f0_all']['mse']:.6f}" for r in result["layers"])
    return f"{mses}\nlang_id: {result['language'].get('lang_id')}"
