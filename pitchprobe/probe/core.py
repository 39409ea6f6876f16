"""The probe core, on in-memory frames: accumulate sums, fit every layer's probes, predict, score.

Nothing here opens a file. The input is an iterable of
:class:`~pitchprobe.probe.frames.Frames` (features of every layer and the
labels of one utterance); :mod:`pitchprobe.probe.run` wraps this core with
file iteration, model forwards and result writing (torchcrepe's ladder:
:func:`fit` / :func:`score` -> ``fit_probes`` / ``score_probes`` -> ``run_probe``).

Targets (one probe per layer and target, :data:`TARGETS`):

- ``f0_all``: F0 in Hz on every frame, unvoiced = 0 (the prototype's target);
- ``f0_voiced``: F0 in Hz, voiced frames only;
- ``logf0_voiced``: natural-log F0, voiced frames only.

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
from pitchprobe.probe.metrics import TARGETS, Scores


def targets(f0: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(T, 3) float64 targets [f0, f0, log f0] (0 where unvoiced) and the (T,) voiced mask."""
    voiced = f0 > 0
    logf0 = np.zeros_like(f0)
    logf0[voiced] = np.log(f0[voiced])
    y = np.stack([f0, np.where(voiced, f0, 0.0), logf0], axis=1)
    return torch.as_tensor(y, device=device), torch.as_tensor(voiced, device=device)


class LayerSums:
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
        for layer, x in enumerate(frames.states):
            self.layers[layer].add(x, y, voiced)

    @property
    def frames(self) -> int:
        return self.layers[0].voiced.n + self.layers[0].unvoiced.n if self.layers else 0


@dataclass
class Probes:
    """Fitted probes of every layer for the three targets, plus what they were fitted on.

    Attributes
    ----------
    code : str
        Training language.
    params : PitchParams
        Labels the probes were fitted on.
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

    @property
    def has_dev(self) -> bool:
        return bool(np.isfinite(self.dev_mse).any())

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

    @classmethod
    def load(cls, path: Path) -> Probes:
        """Read probes written by :meth:`save` (no pickle)."""
        with np.load(path, allow_pickle=False) as z:
            n = sum(1 for k in z.files if k.startswith("coef_"))
            return cls(
                code=str(z["code"]),
                params=PitchParams(**json.loads(str(z["params"]))),
                coef=[z[f"coef_{i}"] for i in range(n)],
                intercept=z["intercept"],
                alpha=z["alpha"],
                dev_mse=z["dev_mse"],
                train_mean=z["train_mean"],
            )


def fit(train: SplitSums, dev: SplitSums | None, *, code: str, params: PitchParams, alpha: float | None) -> Probes:
    """Fit every layer's probes on ``train``; choose alpha on ``dev`` unless fixed; report dev MSE either way."""
    if not train.layers or train.frames < 2:
        raise PitchProbeError(f"{code}: no usable training frames")
    dev_layers = dev.layers if dev is not None and dev.layers else None
    coef, intercept, alphas, dev_mse = [], [], [], []
    for layer, tr in enumerate(train.layers):
        dv = dev_layers[layer] if dev_layers else None
        sols, mses = [], []
        for part in ("all_frames", "voiced_targets"):
            try:
                sol, grid_mse = ridge.choose(getattr(tr, part)(), getattr(dv, part)() if dv else None, alpha=alpha)
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
    train_all = train.layers[0].all_frames()
    train_v = train.layers[0].voiced
    means = np.array(
        [float(train_all.sy[0]) / train_all.n, *(float(train_v.sy[q]) / max(train_v.n, 1) for q in (1, 2))]
    )
    return Probes(code, params, coef, np.array(intercept), np.array(alphas), np.array(dev_mse), means)


def predict(probes: Probes, states: list[torch.Tensor]) -> np.ndarray:
    """(L, T, 3) float64 predictions of every layer's probes from ``states[l]`` (T, D_l)."""
    out = []
    for layer, x in enumerate(states):
        w = torch.as_tensor(probes.coef[layer], device=x.device)
        out.append((x.to(torch.float64) @ w).cpu().numpy() + probes.intercept[layer])
    return np.stack(out) if out else np.zeros((0, 0, 3))


def score(
    probes: Probes,
    frames: Iterable[Frames],
    *,
    on_utterance: Callable[[Frames, np.ndarray], None] | None = None,
) -> Scores:
    """Score ``probes`` on test frames: a :class:`Scores` of L + 1 predictors (layers, then the train-mean floor).

    ``on_utterance(frames, pred)`` sees each utterance's (L, T, 3) predictions (to write them, say).
    """
    n_layers = len(probes.coef)
    scores = Scores(n_layers + 1, f0_min=probes.params.f0_min_hz, f0_max=probes.params.f0_max_hz)
    for fr in frames:
        pred = predict(probes, fr.states)
        floor = np.broadcast_to(probes.train_mean, (1, fr.f0.size, 3))
        scores.add(np.concatenate([pred, floor]), fr.f0)
        if on_utterance is not None:
            on_utterance(fr, pred)
    return scores


__all__ = ["LayerSums", "Probes", "SplitSums", "fit", "predict", "score", "targets"]
