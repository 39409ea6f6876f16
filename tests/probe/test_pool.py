"""Sums of several passes: re-centred exactly, stored and read back, pooled and left out (no model, no files
but the sums)."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

from pitchprobe.labels.pitch import PitchParams
from pitchprobe.probe import core, ridge
from pitchprobe.probe.frames import Frames
from pitchprobe.probe.pool import leave_out, load_sums, pool_sums, save_sums, sums_bytes

DIMS = [5, 3]


def _language(rng, n_utts, offset):
    """Utterances of one pseudo-language: features with a language-specific mean, F0 linear in them plus noise."""
    out = []
    w = np.array([3.0, -2.0, 1.0, 0.5, 0.0])
    for i in range(n_utts):
        t = int(rng.integers(20, 40))
        x0 = rng.normal(size=(t, 5)) + offset
        f0 = np.where(rng.random(t) < 0.7, 150 + x0 @ w + rng.normal(scale=2.0, size=t), 0.0)
        states = [torch.tensor(x0), torch.tensor(rng.normal(size=(t, 3)) + offset)]
        out.append(Frames(f"u{i}", states, f0, np.arange(t), 200 + 320 * np.arange(t)))
    return out


def _sums(train, dev):
    out = {"train": core.SplitSums(DIMS)}
    out["dev"] = core.SplitSums(DIMS, like=out["train"])
    for split, frames in (("train", train), ("dev", dev)):
        for fr in frames:
            out[split].add(fr)
    return out


@pytest.fixture(scope="module")
def languages():
    rng = np.random.default_rng(0)
    return {c: (_language(rng, 6, k * 4.0), _language(rng, 3, k * 4.0)) for k, c in enumerate("abc")}


def test_shifted_sums_equal_sums_made_about_the_new_shift():
    rng = np.random.default_rng(1)
    x, y = torch.tensor(rng.normal(size=(50, 4)) + 10), torch.tensor(rng.normal(size=(50, 2)))
    a, b = ridge.Sums(4, 2, x[:5].mean(0)), ridge.Sums(4, 2, torch.zeros(4, dtype=torch.float64))
    a.add(x, y)
    b.add(x, y)
    moved = a.shifted(b.shift)
    for name in ("sx", "xtx", "sy", "xty", "yty"):
        np.testing.assert_allclose(getattr(moved, name).numpy(), getattr(b, name).numpy(), rtol=1e-12, atol=1e-9)


def test_stored_sums_read_back_exactly_in_float64_and_closely_in_float32(languages, tmp_path):
    sums = _sums(*languages["a"])
    for dtype, rtol in (("float64", 0.0), ("float32", 1e-6)):
        path = tmp_path / f"{dtype}.npz"
        size = save_sums(path, sums, dtype=dtype)
        assert size == path.stat().st_size and abs(size - sums_bytes(DIMS, dtype=dtype)) < 0.1 * size
        back = load_sums(path)
        for split in ("train", "dev"):
            for mine, theirs in zip(back[split].layers, sums[split].layers):
                for part in ("voiced", "unvoiced"):
                    m, t = getattr(mine, part), getattr(theirs, part)
                    assert m.n == t.n
                    np.testing.assert_allclose(m.xtx.numpy(), t.xtx.numpy(), rtol=rtol)
                    np.testing.assert_array_equal(m.xty.numpy(), t.xty.numpy())


def _ridge_reference(frames_sets, layer, alpha, voiced_only):
    x = np.concatenate([fr.states[layer].numpy() for frames in frames_sets for fr in frames])
    y = np.concatenate([fr.f0 for frames in frames_sets for fr in frames])
    keep = y > 0 if voiced_only else np.ones(y.size, bool)
    return Ridge(alpha=alpha).fit(x[keep], y[keep])


@pytest.mark.parametrize("alpha", [0.5, 30.0])
def test_pooled_and_left_out_sums_fit_what_concatenated_frames_fit(languages, tmp_path, alpha):
    paths = {}
    for code, (train, dev) in languages.items():
        paths[code] = tmp_path / f"{code}.npz"
        save_sums(paths[code], _sums(train, dev))
    pooled = pool_sums(paths.values())
    params = PitchParams()
    fits = {"pooled": (core.fit(pooled["train"], pooled["dev"], code="pooled", params=params, alpha=alpha), "abc")}
    rest = leave_out(pooled, paths["b"])
    fits["others"] = (core.fit(rest["train"], rest["dev"], code="others", params=params, alpha=alpha), "ac")
    for probes, codes in fits.values():
        trains = [languages[c][0] for c in codes]
        for layer in range(2):
            for col, voiced_only in ((0, False), (1, True)):
                ref = _ridge_reference(trains, layer, alpha, voiced_only)
                np.testing.assert_allclose(probes.coef[layer][:, col], ref.coef_, rtol=1e-6, atol=1e-9)
                assert probes.intercept[layer, col] == pytest.approx(ref.intercept_, rel=1e-6)
        n = sum(fr.f0.size for frames in trains for fr in frames)
        assert probes.train_mean[0] == pytest.approx(sum(fr.f0.sum() for f in trains for fr in f) / n, rel=1e-12)


def test_many_probes_scored_at_once_equal_each_scored_alone(languages):
    params = PitchParams()
    probes = []
    for code, (train, dev) in languages.items():
        s = _sums(train, dev)
        probes.append(core.fit(s["train"], s["dev"], code=code, params=params, alpha=None))
    test = languages["a"][1] + languages["c"][1]
    together = core.score_many(probes, test)
    for p, many in zip(probes, together):
        alone = core.score(p, test)
        for k, v in alone.total.items():
            np.testing.assert_allclose(many.total[k], v, rtol=1e-12, atol=1e-9)
