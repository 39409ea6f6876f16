"""Register against movement, and voicing, on a planted corpus: the probe must recover what was planted.

Pseudo-speakers differ in register (their median F0); each utterance's contour is drawn independently of
the speaker. Layer 0 holds only the utterance's register, layer 1 only the contour (semitones re the
utterance's median), layer 2 only voicing; every layer has noise dimensions besides.
"""

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr

from pitchprobe.labels.pitch import PitchParams
from pitchprobe.probe import core
from pitchprobe.probe.frames import Frames
from pitchprobe.probe.metrics import REGISTER_REF_HZ, TARGETS

REGISTERS_HZ = (95.0, 120.0, 165.0, 210.0, 250.0)  # the pseudo-speakers' medians
NOISE_DIMS = 6


def _utterance(rng, base_hz, uid):
    t = int(rng.integers(60, 140))
    contour = np.cumsum(rng.normal(0, 0.8, t))  # semitones, a random walk: movement with no speaker in it
    voiced = rng.random(t) < 0.75
    contour -= np.median(contour[voiced])  # so that the utterance's median voiced F0 is the speaker's
    f0 = np.where(voiced, base_hz * 2 ** (contour / 12), 0.0)
    register = 12 * np.log2(base_hz / REGISTER_REF_HZ)
    noise = lambda: rng.normal(0, 1, (t, NOISE_DIMS))  # noqa: E731
    layer0 = np.column_stack([np.full(t, register) + rng.normal(0, 0.05, t), noise()])  # register only
    layer1 = np.column_stack([np.where(voiced, contour, 0.0) + rng.normal(0, 0.05, t), noise()])  # contour only
    layer2 = np.column_stack([voiced + rng.normal(0, 0.1, t), noise()])  # voicing only
    states = [torch.tensor(x) for x in (layer0, layer1, layer2)]
    return Frames(uid, states, f0, np.arange(t), 200 + 320 * np.arange(t))


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(11)

    def split(n, name):
        bases = [REGISTERS_HZ[i % len(REGISTERS_HZ)] * rng.uniform(0.97, 1.03) for i in range(n)]
        return [_utterance(rng, base, f"{name}{i}") for i, base in enumerate(bases)]

    train, dev, test = split(150, "tr"), split(40, "dv"), split(60, "te")
    sums = {}
    for name, utts in (("train", train), ("dev", dev)):
        sums[name] = core.SplitSums([1 + NOISE_DIMS] * 3, like=sums.get("train"))
        for fr in utts:
            sums[name].add(fr)
    probes = core.fit(sums["train"], sums["dev"], code="planted", params=PitchParams(), alpha=None)
    return probes, core.score(probes, test), test


def test_register_feature_scores_on_register_and_not_on_movement(planted):
    _, scores, _ = planted
    m = scores.metrics(0)
    assert m["register"]["r"] > 0.99
    assert abs(m["st_utt"]["r_within"]) < 0.1
    # pooled r of the voiced-F0 probe is high all the same: it rewards telling a low voice from a high one
    assert m["f0_voiced"]["r"] > 0.8


def test_contour_feature_scores_on_movement_and_not_on_register(planted):
    _, scores, _ = planted
    m = scores.metrics(1)
    assert m["st_utt"]["r_within"] > 0.99
    assert m["st_utt"]["r"] > 0.99
    assert abs(m["register"]["r"]) < 0.35
    assert m["register"]["r2"] < 0.2


def test_within_utterance_r_of_the_run_equals_each_utterances_pearson_r_averaged(planted):
    probes, scores, test = planted
    rs, ws = [], []
    for fr in test:
        pred = core.predict(probes, fr.states)[1, :, TARGETS.index("st_utt")]
        v = fr.f0 > 0
        rs.append(pearsonr(pred[v], 12 * np.log2(fr.f0[v] / np.median(fr.f0[v])))[0])
        ws.append(v.sum())
    assert scores.metrics(1)["st_utt"]["r_within"] == pytest.approx(np.average(rs, weights=ws), rel=1e-10)


def test_planted_voicing_feature_gives_balanced_accuracy_above_0_99(planted):
    probes, scores, _ = planted
    m = scores.metrics(2)["voicing"]
    assert m["balanced_accuracy"] > 0.99
    assert m["auc"] > 0.99
    assert 0.2 < probes.threshold[2] < 0.8  # between the classes' mean scores (0 and 1)
    floor = scores.metrics(len(probes.coef))["voicing"]  # the train-mean floor cannot tell the classes apart
    assert floor["balanced_accuracy"] == pytest.approx(0.5)
    assert floor["auc"] == pytest.approx(0.5)


def test_voicing_threshold_is_where_the_dev_score_densities_meet():
    rng = np.random.default_rng(3)
    from pitchprobe.probe import ridge

    shift = torch.zeros(1, dtype=torch.float64)
    pos, neg = ridge.Sums(1, 1, shift), ridge.Sums(1, 1, shift)
    a = torch.tensor(rng.normal(1.0, 0.2, (4000, 1)))
    b = torch.tensor(rng.normal(0.0, 0.4, (9000, 1)))
    pos.add(a, torch.ones(4000, 1, dtype=torch.float64))
    neg.add(b, torch.zeros(9000, 1, dtype=torch.float64))
    t = ridge.equal_density_threshold(pos, neg, np.array([1.0]), 0.0)
    m1, s1, m0, s0 = a.mean().item(), a.std(unbiased=False).item(), b.mean().item(), b.std(unbiased=False).item()

    def log_density(x, m, s):
        return -0.5 * ((x - m) / s) ** 2 - np.log(s)

    assert m0 < t < m1
    assert log_density(t, m1, s1) == pytest.approx(log_density(t, m0, s0), abs=1e-9)
