"""The probe core, on in-memory frames: accumulate sums, fit every layer's probes, predict, score.

Nothing here opens a file. The input is an iterable of
:class:`~pitchprobe.probe.frames.Frames` (features of every layer and the
labels of one utterance); :mod:`pitchprobe.probe.run` wraps this core with
file iteration, model forwards and result writing (torchcrepe's ladder:
:func:`fit` / :func:`score` -> ``fit_probes`` / ``score_probes`` -> ``run_probe``).

Targets (one probe per layer and target, :data:`~pitchprobe.probe.metrics.TARGETS`, defined in
:mod:`pitchprobe.probe.metrics`): ``f0_all`` and ``voicing`` are fitted on every frame, ``f0_voiced``,
``logf0_voiced`` and ``st_utt`` on voiced frames, ``register`` on each utterance's mean-pooled state.
The voicing probe's threshold is where the normal densities of its dev scores on voiced and on
unvoiced frames meet (both fitted from the dev sums, so pooled probes get one too): the
balanced-accuracy optimum when the scores are normal.

A train-mean predictor of each target is scored the same way, as the floor.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pitchprobe.core.atomic import atomic_path
from pitchprobe.core.errors import PitchProbeError
from pitchprobe.labels.pitch import PitchParams
from pitchprobe.probe import ridge
from pitchprobe.probe.frames import Frames
from pitchprobe.probe.metrics import HISTOGRAMS, SUM_NAMES, TARGETS, Scores, frame_targets, utterance_sums

N_FRAME_COLUMNS = 5  # frame sums hold TARGETS[:5]; register (column 5) has utterance sums of its own
PARTS = (  # each fitted from one XᵀX (one eigendecomposition): (LayerSums method, its TARGETS columns)
    ("all_frames", (0, 4)),  # f0_all, voicing
    ("voiced_targets", (1, 2, 3)),  # f0_voiced, logf0_voiced, st_utt
    ("register_targets", (5,)),  # register
)
VOICING = TARGETS.index("voicing")


def targets(f0: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(T, 6) float64 targets (:func:`~pitchprobe.probe.metrics.frame_targets`) and the (T,) voiced mask."""
    return torch.as_tensor(frame_targets(f0), device=device), torch.as_tensor(f0 > 0, device=device)


class LayerSums:
    """Train or dev sums of one layer: frames split by voicing (all frames = voiced + unvoiced), and
    ``utterances``: one row per utterance with a voiced frame, its mean-pooled state and its register."""

    def __init__(self, dim: int, shift: torch.Tensor):
        self.voiced = ridge.Sums(dim, N_FRAME_COLUMNS, shift)
        self.unvoiced = ridge.Sums(dim, N_FRAME_COLUMNS, shift)
        self.utterances = ridge.Sums(dim, 1, shift)

    @classmethod
    def of(cls, voiced: ridge.Sums, unvoiced: ridge.Sums, utterances: ridge.Sums) -> LayerSums:
        out = cls.__new__(cls)
        out.voiced, out.unvoiced, out.utterances = voiced, unvoiced, utterances
        return out

    def parts(self) -> tuple[ridge.Sums, ridge.Sums, ridge.Sums]:
        return self.voiced, self.unvoiced, self.utterances

    def shifted(self, shift: torch.Tensor) -> LayerSums:
        return LayerSums.of(*(p.shifted(shift) for p in self.parts()))

    def __add__(self, other: LayerSums) -> LayerSums:
        return LayerSums.of(*(a + b for a, b in zip(self.parts(), other.parts())))

    def __sub__(self, other: LayerSums) -> LayerSums:
        return LayerSums.of(*(a - b for a, b in zip(self.parts(), other.parts())))

    def add(self, x: torch.Tensor, y: torch.Tensor, voiced: torch.Tensor, *, has_voiced: bool) -> None:
        """One utterance: states ``x`` (T, D), targets ``y`` (T, 6), voiced mask (T,); ``has_voiced``: whether
        any frame is voiced (known on the host, so that no GPU sync is needed per layer)."""
        frame_y = y[:, :N_FRAME_COLUMNS]
        self.voiced.add(x[voiced], frame_y[voiced])
        self.unvoiced.add(x[~voiced], frame_y[~voiced])
        if has_voiced:
            self.utterances.add(x.to(torch.float64).mean(0, keepdim=True), y[:1, N_FRAME_COLUMNS:])

    def all_frames(self) -> ridge.Sums:
        """Sums of ``f0_all`` and ``voicing`` over every frame."""
        return (self.voiced + self.unvoiced).columns([0, 4])

    def voiced_targets(self) -> ridge.Sums:
        """Sums of ``f0_voiced``, ``logf0_voiced`` and ``st_utt`` over voiced frames."""
        return self.voiced.columns([1, 2, 3])

    def register_targets(self) -> ridge.Sums:
        """Sums of ``register`` over utterances (mean-pooled states)."""
        return self.utterances


class SplitSums:
    """Per-layer sums of one split. The shift of each layer (its first frames' mean) is shared with ``like``."""

    def __init__(self, hidden_sizes: list[int], *, like: SplitSums | None = None):
        self.hidden_sizes = list(hidden_sizes)
        self._like = like
        self.layers: list[LayerSums] = []

    def add(self, frames: Frames) -> None:
        """Add one utterance's frames."""
        if frames.f0.size == 0:
            return
        y, voiced = targets(frames.f0, frames.states[0].device)
        if not self.layers:
            for layer, x in enumerate(frames.states):
                if self._like is not None and self._like.layers:
                    shift = self._like.layers[layer].voiced.shift
                else:
                    shift = x.to(torch.float64).mean(0)
                self.layers.append(LayerSums(self.hidden_sizes[layer], shift))
        has_voiced = bool((frames.f0 > 0).any())
        for layer, x in enumerate(frames.states):
            self.layers[layer].add(x, y, voiced, has_voiced=has_voiced)

    @property
    def frames(self) -> int:
        return self.layers[0].voiced.n + self.layers[0].unvoiced.n if self.layers else 0

    @classmethod
    def of(cls, hidden_sizes: list[int], layers: list[LayerSums]) -> SplitSums:
        out = cls(hidden_sizes)
        out.layers = list(layers)
        return out

    def shifted(self, shifts: list[torch.Tensor]) -> SplitSums:
        """The same sums about per-layer ``shifts`` (so that sums of other passes can be added)."""
        return SplitSums.of(self.hidden_sizes, [x.shifted(s) for x, s in zip(self.layers, shifts)])

    def __add__(self, other: SplitSums) -> SplitSums:
        if not other.layers:
            return self
        if not self.layers:
            return other
        return SplitSums.of(self.hidden_sizes, [a + b for a, b in zip(self.layers, other.layers)])

    def __sub__(self, other: SplitSums) -> SplitSums:
        if not other.layers:
            return self
        return SplitSums.of(self.hidden_sizes, [a - b for a, b in zip(self.layers, other.layers)])


@dataclass
class Probes:
    """Fitted probes of every layer for every target, plus what they were fitted on.

    Attributes
    ----------
    code : str
        Training language.
    params : PitchParams
        Labels the probes were fitted on.
    coef : list of np.ndarray
        Per layer, float64 (D_l, 6): weights on the features for each target (:data:`TARGETS` order).
    intercept : np.ndarray
        float64 (L, 6).
    alpha : np.ndarray
        (L, 6) chosen (or fixed) ridge penalties.
    dev_mse : np.ndarray
        (L, 6) dev MSE at the chosen alpha (NaN without dev frames).
    train_mean : np.ndarray
        (6,) train means of the targets: the floor predictor.
    threshold : np.ndarray
        (L,) the voicing probe's threshold on its score (chosen on dev; on train without dev).
    """

    code: str
    params: PitchParams
    coef: list[np.ndarray]
    intercept: np.ndarray
    alpha: np.ndarray
    dev_mse: np.ndarray
    train_mean: np.ndarray
    threshold: np.ndarray

    @property
    def has_dev(self) -> bool:
        return bool(np.isfinite(self.dev_mse).any())

    def save(self, path: Path) -> None:
        """Write the probes as ``.npz`` (``coef_<l>``, ``intercept``, ``alpha``, ``dev_mse``, ``train_mean``, ...)."""
        arrays = {f"coef_{i}": c for i, c in enumerate(self.coef)}
        with atomic_path(path) as tmp:
            np.savez(
                tmp,
                **arrays,
                intercept=self.intercept,
                alpha=self.alpha,
                dev_mse=self.dev_mse,
                train_mean=self.train_mean,
                threshold=self.threshold,
                targets=np.array(TARGETS),
                code=np.array(self.code),
                params=np.array(json.dumps(self.params.as_json())),
            )

    @classmethod
    def load(cls, path: Path) -> Probes:
        """Read probes written by :meth:`save` (no pickle); probes of other targets are refused."""
        with np.load(path, allow_pickle=False) as z:
            if tuple(str(t) for t in z["targets"]) != TARGETS:
                raise PitchProbeError(f"{path} holds probes of other targets (an older pitchprobe): recompute them")
            n = sum(1 for k in z.files if k.startswith("coef_"))
            return cls(
                code=str(z["code"]),
                params=PitchParams.from_json(json.loads(str(z["params"]))),
                coef=[z[f"coef_{i}"] for i in range(n)],
                intercept=z["intercept"],
                alpha=z["alpha"],
                dev_mse=z["dev_mse"],
                train_mean=z["train_mean"],
                threshold=z["threshold"],
            )


def fit(train: SplitSums, dev: SplitSums | None, *, code: str, params: PitchParams, alpha: float | None) -> Probes:
    """Fit every layer's probes on ``train``; choose alpha on ``dev`` unless fixed; report dev MSE either way."""
    if not train.layers or train.frames < 2:
        raise PitchProbeError(f"{code}: no usable training frames")
    dev_layers = dev.layers if dev is not None and dev.layers else None
    q = len(TARGETS)
    n_layers = len(train.layers)
    coef = [np.zeros((d, q)) for d in train.hidden_sizes[:n_layers]]
    intercept, alphas, dev_mse = (np.full((n_layers, q), np.nan) for _ in range(3))
    threshold = np.full(n_layers, 0.5)
    for layer, tr in enumerate(train.layers):
        dv = dev_layers[layer] if dev_layers else None
        for part, cols in PARTS:
            train_part, dev_part = getattr(tr, part)(), getattr(dv, part)() if dv else None
            if part == "register_targets" and train_part.n < 2:
                continue  # too few utterances with voiced frames for a register probe: it stays undefined
            try:
                sol, grid_mse = ridge.choose(train_part, dev_part, alpha=alpha)
            except ValueError as e:
                raise PitchProbeError(f"{code}, layer {layer}: {e}") from e
            cols = list(cols)
            coef[layer][:, cols] = sol.coef.T
            intercept[layer, cols], alphas[layer, cols] = sol.intercept, sol.alphas
            if not np.isnan(grid_mse).all():
                dev_mse[layer, cols] = np.nanmin(grid_mse, axis=0)
        on = dv if dv is not None and dv.voiced.n and dv.unvoiced.n else tr
        threshold[layer] = ridge.equal_density_threshold(
            on.voiced, on.unvoiced, coef[layer][:, VOICING], intercept[layer, VOICING]
        )
    first = train.layers[0]
    every = first.voiced + first.unvoiced
    means = np.array(
        [
            float(every.sy[0]) / every.n,
            *(float(first.voiced.sy[c]) / max(first.voiced.n, 1) for c in (1, 2, 3)),
            float(every.sy[4]) / every.n,
            float(first.utterances.sy[0]) / first.utterances.n if first.utterances.n else np.nan,
        ]
    )
    return Probes(code, params, coef, intercept, alphas, dev_mse, means, threshold)


def predict(probes: Probes, states: list[torch.Tensor]) -> np.ndarray:
    """(L, T, 6) float64 frame predictions of every layer's probes from ``states[l]`` (T, D_l)."""
    return _Stacked([probes]).predict(states)[0]


class _Stacked:
    """K probes' weights side by side per layer, so that one product per layer predicts them all."""

    def __init__(self, probes: list[Probes]):
        self.k, self.n_layers = len(probes), len(probes[0].coef)
        self.coef = [np.concatenate([p.coef[layer] for p in probes], axis=1) for layer in range(self.n_layers)]
        self.intercept = [np.concatenate([p.intercept[layer] for p in probes]) for layer in range(self.n_layers)]
        self.floor = np.stack([p.train_mean for p in probes])  # (K, 6)
        # (K (L + 1),) voicing thresholds of every predictor: the layers', then the floor's (its constant score)
        self.threshold = np.concatenate([np.append(p.threshold, p.train_mean[VOICING]) for p in probes])
        self._on: dict = {}

    def _weights(self, layer: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        key = (layer, device)
        if key not in self._on:
            self._on[key] = tuple(torch.as_tensor(a, device=device) for a in (self.coef[layer], self.intercept[layer]))
        return self._on[key]

    def predict_tensor(self, states: list[torch.Tensor]) -> torch.Tensor:
        """(K, L, T, 6) float64 predictions, on the states' device."""
        out = []
        q = len(TARGETS)
        for layer, x in enumerate(states):
            w, b = self._weights(layer, x.device)
            p = x.to(torch.float64) @ w + b  # (T, 6K)
            out.append(p.reshape(p.shape[0], self.k, q).transpose(0, 1))
        return torch.stack(out, dim=1)

    def predict(self, states: list[torch.Tensor]) -> np.ndarray:
        """(K, L, T, 6) float64 predictions."""
        return self.predict_tensor(states).cpu().numpy()


def score_many(
    probes: list[Probes],
    frames: Iterable[Frames],
    *,
    on_utterance: Callable[[Frames, Callable[[int], np.ndarray], list[dict]], None] | None = None,
) -> list[Scores]:
    """Score K fitted ``probes`` on the same test frames in one pass: one :class:`Scores` each (L + 1
    predictors: layers, then the train-mean floor).

    Each layer's K probes are one (D, 6K) product, and the metrics' sums of every probe and layer one
    vectorised :func:`~pitchprobe.probe.metrics.utterance_sums` (on the GPU when the states are there,
    only the sums coming back), so that scoring many probes costs little next to the forward pass.
    ``on_utterance(frames, pred_of, sums)`` sees each utterance: ``pred_of(k)`` gives probe k's (L, T, 6)
    predictions (numpy, fetched from the GPU only when asked for), ``sums[k]`` its sums of its L + 1
    predictors (to write them, say).
    """
    if not probes:
        return []
    lo, hi = probes[0].params.f0_min_hz, probes[0].params.f0_max_hz
    if any((p.params.f0_min_hz, p.params.f0_max_hz) != (lo, hi) for p in probes):
        raise PitchProbeError("probes fitted on labels of other F0 ranges cannot be scored together")
    stacked = _Stacked(probes)
    n = stacked.n_layers + 1
    scores = [Scores(n, f0_min=lo, f0_max=hi) for _ in probes]
    q = len(TARGETS)
    for fr in frames:
        gpu = fr.states[0].device.type != "cpu"
        pred = stacked.predict_tensor(fr.states)
        if not gpu:  # numpy is the faster of the two on the CPU
            pred = pred.numpy()
        f0 = torch.as_tensor(fr.f0, device=pred.device) if gpu else fr.f0
        floor = torch.as_tensor(stacked.floor, device=pred.device) if gpu else stacked.floor
        floor = (
            floor[:, None, None, :].expand(stacked.k, 1, fr.f0.size, q)
            if gpu
            else np.broadcast_to(floor[:, None, None, :], (stacked.k, 1, fr.f0.size, q))
        )
        both = (torch.cat if gpu else np.concatenate)([pred, floor], 1).reshape(stacked.k * n, fr.f0.size, q)
        threshold = torch.as_tensor(stacked.threshold, device=pred.device) if gpu else stacked.threshold
        sums = utterance_sums(both, f0, f0_min=lo, f0_max=hi, threshold=threshold)
        if gpu:  # one transfer of every sum, one of the histograms
            values = torch.stack([sums[k] for k in SUM_NAMES]).cpu().numpy()
            hists = torch.stack([sums[k] for k in HISTOGRAMS]).cpu().numpy()
            sums = {**dict(zip(SUM_NAMES, values)), **dict(zip(HISTOGRAMS, hists))}
        each = [{name: v[i * n : (i + 1) * n] for name, v in sums.items()} for i in range(stacked.k)]
        for s, one in zip(scores, each):
            s.add_sums(one)
        if on_utterance is not None:
            on_utterance(fr, (lambda i, p=pred: p[i].cpu().numpy()) if gpu else (lambda i, p=pred: p[i]), each)
    return scores


def score(
    probes: Probes,
    frames: Iterable[Frames],
    *,
    on_utterance: Callable[[Frames, np.ndarray], None] | None = None,
) -> Scores:
    """Score ``probes`` on test frames: a :class:`Scores` of L + 1 predictors (layers, then the train-mean floor).

    ``on_utterance(frames, pred)`` sees each utterance's (L, T, 6) predictions (to write them, say).
    """
    hook = None if on_utterance is None else (lambda fr, pred_of, _sums: on_utterance(fr, pred_of(0)))
    return score_many([probes], frames, on_utterance=hook)[0]


__all__ = ["LayerSums", "Probes", "SplitSums", "fit", "predict", "score", "score_many", "targets"]
