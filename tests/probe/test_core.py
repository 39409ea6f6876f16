"""The probe core on in-memory frames: no files, no model."""

import numpy as np
import torch
from sklearn.linear_model import LinearRegression

from pitchprobe.labels.pitch import PitchParams
from pitchprobe.probe import core
from pitchprobe.probe.frames import Frames


def _frames(rng, n_utts, planted):
    out = []
    for i in range(n_utts):
        t = rng.integers(30, 60)
        f0 = np.where(rng.random(t) < 0.7, rng.uniform(90, 250, t), 0.0)
        x0 = np.column_stack([2.0 * f0 + 5.0, rng.normal(size=(t, 2))]) if planted else rng.normal(size=(t, 3))
        states = [torch.tensor(x0), torch.tensor(rng.normal(size=(t, 3)))]
        out.append(Frames(f"u{i}", states, f0, np.arange(t), 200 + 320 * np.arange(t)))
    return out


def test_fit_and_score_in_memory_recover_a_planted_signal_and_equal_least_squares(tmp_path):
    rng = np.random.default_rng(0)
    train, dev, test = _frames(rng, 8, True), _frames(rng, 3, True), _frames(rng, 4, True)
    sums = {"train": core.SplitSums([3, 3])}
    sums["dev"] = core.SplitSums([3, 3], like=sums["train"])
    for split, frames in (("train", train), ("dev", dev)):
        for fr in frames:
            sums[split].add(fr)
    probes = core.fit(sums["train"], sums["dev"], code="x", params=PitchParams(), alpha=0.0)
    assert probes.has_dev and np.isfinite(probes.dev_mse).all()
    scores = core.score(probes, test)
    planted, noise, floor = (scores.metrics(i) for i in range(3))
    assert planted["f0_voiced"]["r"] > 0.999999 and planted["f0_all"]["mse_hz2"] < 1e-6
    assert noise["f0_voiced"]["r2"] < 0.2
    assert floor["f0_voiced"]["r"] is None  # a constant has no correlation
    # layer 1 (noise) against an independent least-squares fit
    x = np.concatenate([fr.states[1].numpy() for fr in train])
    y = np.concatenate([fr.f0 for fr in train])
    xt = np.concatenate([fr.states[1].numpy() for fr in test])
    yt = np.concatenate([fr.f0 for fr in test])
    ref = float(np.mean((LinearRegression().fit(x, y).predict(xt) - yt) ** 2))
    assert np.isclose(noise["f0_all"]["mse_hz2"], ref, rtol=1e-9)
    probes.save(tmp_path / "p.probes.npz")
    back = core.Probes.load(tmp_path / "p.probes.npz")
    assert back.params == probes.params and back.code == "x"
    for a, b in zip(back.coef, probes.coef):
        np.testing.assert_array_equal(a, b)
