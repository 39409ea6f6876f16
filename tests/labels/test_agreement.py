import itertools
import math

import numpy as np
import pytest
from scipy.stats import pearsonr

from pitchprobe.labels.agreement import (
    REGISTER_REF_HZ,
    PairAgreement,
    agreement_rows,
    consensus,
    consensus_counts,
    headline_agreement,
    pair_agreement,
)

NAN = float("nan")


def cents_up(f0, c):
    """``f0`` moved by ``c`` cents."""
    return f0 * 2.0 ** (c / 1200.0)


# 10 frames with known errors; a is the reference
A = np.array([100.0, 200.0, 150.0, 120.0, 0.0, 0.0, 180.0, 100.0, 250.0, 200.0])
B = np.array([100.0, 100.0, 300.0, 150.0, 0.0, 90.0, 0.0, 110.0, 240.0, cents_up(200.0, -1150.0)])
# frame: 0 exact, 1 halving, 2 doubling, 3 +25 % (gross, not an octave), 4 both unvoiced, 5 only b voiced,
# 6 only a voiced, 7 +10 % (not gross), 8 -4 %, 9 an octave down with 50 cents of jitter (octave and gross)
BOTH = [0, 1, 2, 3, 7, 8, 9]


def test_pair_metrics_equal_a_hand_count():
    m = pair_agreement(A, B)
    assert (m.frames, m.voiced_a, m.voiced_b, m.both_voiced) == (10, 8, 8, 7)
    assert m.voicing_agreement == pytest.approx(8 / 10)  # all but frames 5 and 6
    assert m.gpe == pytest.approx(4 / 7)  # frames 1, 2, 3, 9
    assert m.octave_down == pytest.approx(2 / 7)  # frames 1, 9
    assert m.octave_up == pytest.approx(1 / 7)  # frame 2
    # |cents| of the 7 both-voiced frames: 0, 1200, 1200, 386.3, 165.0, 70.7, 1150: the median is frame 3's
    assert m.mad_cents == pytest.approx(1200 * math.log2(1.25), rel=1e-12)
    # signed: -1200, -1150, -70.7, 0, 165.0, 386.3, 1200: the median is frame 0's, where the two agree
    assert m.bias_cents == 0.0
    assert m.r == pytest.approx(pearsonr(A[BOTH], B[BOTH])[0], rel=1e-12)
    assert m.r_log == pytest.approx(pearsonr(np.log(A[BOTH]), np.log(B[BOTH]))[0], rel=1e-12)


def _reference(a, b):
    """The metrics frame by frame, from the definitions."""
    pairs = [(x, y) for x, y in zip(a, b) if not (math.isnan(x) or math.isnan(y))]
    both = [(x, y) for x, y in pairs if x > 0 and y > 0]
    cents = [1200 * math.log2(y / x) for x, y in both]
    n = len(both)
    return {
        "frames": len(pairs),
        "voiced_a": sum(x > 0 for x, _ in pairs),
        "voiced_b": sum(y > 0 for _, y in pairs),
        "both_voiced": n,
        "voicing_agreement": sum((x > 0) == (y > 0) for x, y in pairs) / len(pairs),
        "gpe": sum(abs(y / x - 1) > 0.2 for x, y in both) / n,
        "octave_down": sum(abs(c + 1200) < 100 for c in cents) / n,
        "octave_up": sum(abs(c - 1200) < 100 for c in cents) / n,
        "mad_cents": float(np.median([abs(c) for c in cents])),
        "bias_cents": float(np.median(cents)),
        "r": pearsonr([x for x, _ in both], [y for _, y in both])[0],
        "r_log": pearsonr([math.log(x) for x, _ in both], [math.log(y) for _, y in both])[0],
    }


def test_pair_metrics_equal_the_definitions_on_random_labels_with_nan():
    rng = np.random.default_rng(0)
    a = np.where(rng.random(400) < 0.7, rng.uniform(80, 300, 400), 0.0)
    factor = rng.choice([1.0, 0.5, 2.0, 1.3, 0.8], size=400) * 2 ** (rng.normal(0, 40, 400) / 1200)
    b = np.where(rng.random(400) < 0.8, a * factor, 0.0)
    b[rng.random(400) < 0.1] = 90.0  # voiced where a may be unvoiced
    a[rng.random(400) < 0.05] = NAN
    b[rng.random(400) < 0.05] = NAN
    got = pair_agreement(a, b).as_dict()
    want = _reference(a, b)
    assert got.keys() == want.keys()
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-10), k
    assert 0 < got["octave_down"] and 0 < got["octave_up"] and 0 < got["gpe"] < 1


def test_nan_frames_count_nowhere():
    a = np.concatenate([A, [NAN, 100.0, NAN, NAN, 0.0]])
    b = np.concatenate([B, [100.0, NAN, NAN, 0.0, NAN]])
    assert pair_agreement(a, b) == pair_agreement(A, B)


def test_octave_tolerance_is_100_cents_and_a_fifth_is_not_an_octave():
    a = np.full(5, 200.0)
    b = cents_up(a, np.array([-1200 + 99, -1200 - 99, -1200 + 101, 1200 + 99, -702]))
    m = pair_agreement(a, b)
    assert m.octave_down == pytest.approx(2 / 5)  # the first two only
    assert m.octave_up == pytest.approx(1 / 5)
    assert m.gpe == pytest.approx(5 / 5)  # a fifth down is 33 % off


def test_undefined_metrics_are_nan():
    m = pair_agreement(np.array([100.0, 0.0]), np.array([0.0, 100.0]))  # no frame voiced by both
    assert (m.frames, m.both_voiced, m.voicing_agreement) == (2, 0, 0.0)
    assert all(math.isnan(x) for x in (m.gpe, m.octave_down, m.octave_up, m.mad_cents, m.bias_cents, m.r, m.r_log))
    one = pair_agreement(np.array([100.0]), np.array([110.0]))
    assert one.mad_cents == pytest.approx(1200 * math.log2(1.1)) and math.isnan(one.r)
    assert one.bias_cents == pytest.approx(1200 * math.log2(1.1))
    low = pair_agreement(np.array([100.0, 200.0, 150.0]), np.array([99.0, 196.0, 150.0]))  # b reads low
    assert low.bias_cents == pytest.approx(1200 * math.log2(0.99))
    assert low.bias_cents < 0 < low.mad_cents == -low.bias_cents
    const = pair_agreement(np.array([100.0, 100.0, 100.0]), np.array([90.0, 110.0, 120.0]))
    assert math.isnan(const.r) and math.isnan(const.r_log) and const.gpe == 0.0
    empty = pair_agreement(np.array([NAN]), np.array([100.0]))
    assert empty.frames == 0 and math.isnan(empty.voicing_agreement)


def test_bad_labels_are_refused():
    with pytest.raises(ValueError):
        pair_agreement(np.array([100.0, -1.0]), np.array([100.0, 100.0]))
    with pytest.raises(ValueError):
        pair_agreement(np.array([100.0]), np.array([100.0, 100.0]))


def test_rows_of_every_pair_over_utterances():
    u1 = {"x": A[:6], "y": B[:6], "z": A[:6] * 1.01}
    u2 = {"x": A[6:], "y": B[6:], "z": np.array([0.0, 100.0, 250.0, 200.0, 123.0, 77.0])}  # z two frames longer
    labels = {k: [u1[k], u2[k]] for k in ("x", "y", "z")}
    rows = agreement_rows(labels)
    assert [(r["tracker_a"], r["tracker_b"]) for r in rows] == [("x", "y"), ("x", "z"), ("y", "z")]
    assert {k: v for k, v in rows[0].items() if k not in ("tracker_a", "tracker_b")} == {
        **pair_agreement(A, B).as_dict(),
        **headline_agreement(labels["x"], labels["y"]),
        "length_mismatch_frames": 0,
    }
    z = np.concatenate([u1["z"], u2["z"][:4]])
    assert rows[1]["length_mismatch_frames"] == 2
    assert rows[1]["frames"] == 10 and rows[1]["r"] == pytest.approx(pair_agreement(A, z).r)
    assert rows[2]["voicing_agreement"] == pair_agreement(B, z).voicing_agreement
    (row,) = agreement_rows(labels, pairs=[("z", "x")])
    assert (row["tracker_a"], row["tracker_b"]) == ("z", "x") and row["gpe"] == pair_agreement(z, A).gpe
    (concatenated,) = agreement_rows({"x": A, "y": B})  # one array: one utterance
    frame_level = [*pair_agreement(A, B).as_dict(), "tracker_a", "tracker_b", "length_mismatch_frames"]
    assert {k: concatenated[k] for k in frame_level} == {k: rows[0][k] for k in frame_level}
    with pytest.raises(ValueError):
        agreement_rows({"x": [A], "y": [B[:5], B[5:]]})
    with pytest.raises(ValueError):
        agreement_rows(labels, pairs=[("x", "w")])


def _utterances(seed: int, n: int = 12):
    """``n`` utterances of 30-60 frames: a voiced contour with unvoiced frames, its register varying."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        t = rng.integers(30, 60)
        f0 = rng.uniform(90, 260) * 2 ** (rng.normal(0, 2, t).cumsum() / 12 / 4)
        f0[rng.random(t) < 0.2] = 0.0
        out.append(f0)
    return out


def test_headline_agreement_equals_its_definition():
    a = _utterances(0)
    b = [f * 2 ** (np.random.default_rng(i).normal(0, 40, f.size) / 1200) * (f > 0) for i, f in enumerate(a)]
    b[3][5:9] = 0.0  # b unvoiced where a is voiced: those frames leave the movement r
    got = headline_agreement(a, b)
    wr = w = 0.0
    for x, y in zip(a, b):
        both = (x > 0) & (y > 0)
        sx, sy = 12 * np.log2(x[both] / np.median(x[x > 0])), 12 * np.log2(y[both] / np.median(y[y > 0]))
        wr, w = wr + pearsonr(sx, sy)[0] * both.sum(), w + both.sum()
    assert got["r_movement"] == pytest.approx(wr / w, rel=1e-12)
    reg = [[12 * np.log2(np.median(f[f > 0]) / REGISTER_REF_HZ) for f in labs] for labs in (a, b)]
    assert got["r_register"] == pytest.approx(pearsonr(*reg)[0], rel=1e-12)
    assert got["register_utterances"] == len(a)


def test_a_level_bias_leaves_movement_and_register_agreement_whole():
    """pYAAPT's 17-34 cents low reading moves the level, not the contour nor the order of registers."""
    a = _utterances(1)
    got = headline_agreement(a, [f * 2 ** (-25 / 1200) for f in a])
    assert got["r_movement"] == pytest.approx(1.0, abs=1e-12) and got["r_register"] == pytest.approx(1.0, abs=1e-12)
    octave = [f.copy() for f in a]
    for f in octave:
        f[::7] *= 2  # octave jumps break the movement agreement
    assert headline_agreement(a, octave)["r_movement"] < 0.9
    silent = headline_agreement([np.zeros(10)], [np.zeros(10)])
    assert math.isnan(silent["r_movement"]) and math.isnan(silent["r_register"]) and silent["register_utterances"] == 0


def _gmean(*f):
    return float(np.exp(np.mean(np.log(f))))


def test_consensus_of_three_trackers_keeps_the_frames_the_rule_says():
    frames = [  # (tracker 0, 1, 2) -> expected
        ((100.0, cents_up(100, 10), cents_up(100, -10)), _gmean(100, cents_up(100, 10), cents_up(100, -10))),
        ((200.0, cents_up(200, 30), 300.0), _gmean(200, cents_up(200, 30))),  # only two agree: 300 Hz left out
        ((100.0, cents_up(100, 50), 0.0), cents_up(100, 25)),  # exactly 50 cents agree
        ((100.0, cents_up(100, 50.5), 0.0), NAN),  # just over 50 cents
        ((150.0, 0.0, 0.0), NAN),  # one voiced only
        ((0.0, 0.0, 0.0), 0.0),  # trusted unvoiced
        ((NAN, 120.0, 121.0), _gmean(120, 121)),  # the other two alone agree
        ((NAN, 0.0, 0.0), NAN),  # unvoiced needs every tracker
        ((NAN, 120.0, 0.0), NAN),
        ((100.0, 150.0, 220.0), NAN),  # three voiced, no pair agrees
        ((NAN, NAN, NAN), NAN),
        # closest pair (0, 1) has its geometric mean at +20 cents; tracker 2 is 65 cents from it: left out
        ((100.0, cents_up(100, 40), cents_up(100, -45)), cents_up(100, 20)),
        # closest pair (0, 2) at -12.5 cents; tracker 1 is 42.5 cents from it (55 from tracker 2): kept
        ((100.0, cents_up(100, 30), cents_up(100, -25)), cents_up(100, (0 + 30 - 25) / 3)),
    ]
    f0s = np.array([f for f, _ in frames]).T  # (3, T)
    want = np.array([w for _, w in frames])
    out = consensus(f0s)
    np.testing.assert_allclose(out, want, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(consensus(list(f0s)), out)
    assert consensus_counts(out) == {"frames": 13, "voiced": 6, "unvoiced": 1, "masked": 6}
    strict = consensus(f0s, min_voiced=3)  # frames with only two voiced trackers are masked
    keep3 = [0, 1, 5, 11, 12]
    np.testing.assert_allclose(strict[keep3], want[keep3], rtol=1e-12)
    assert np.isnan(np.delete(strict, keep3)).all()


def test_consensus_of_two_trackers():
    a = np.array([100.0, 100.0, 100.0, 0.0, NAN, NAN, 100.0, 0.0])
    b = np.array([cents_up(100, 50), cents_up(100, 51), 0.0, 0.0, 100.0, 0.0, 200.0, 90.0])
    want = [cents_up(100, 25), NAN, NAN, 0.0, NAN, NAN, NAN, NAN]
    np.testing.assert_allclose(consensus([a, b]), want, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(consensus([a, b], tolerance_cents=1300)[6], math.sqrt(100 * 200))


def _consensus_reference(frame, tol=50.0, min_voiced=2):
    """The rule for one frame, by brute force over the pairs."""
    voiced = [(k, f) for k, f in enumerate(frame) if f > 0]
    dists = [(abs(1200 * math.log2(f / g)), i, j) for (i, f), (j, g) in itertools.combinations(voiced, 2)]
    if len(voiced) >= min_voiced and dists and min(dists)[0] <= tol:
        _, i, j = min(dists)
        centre = (math.log2(frame[i]) + math.log2(frame[j])) / 2
        members = [math.log2(f) for _, f in voiced if abs(1200 * (math.log2(f) - centre)) <= tol]
        return 2 ** (sum(members) / len(members))
    return 0.0 if all(f == 0 for f in frame) else NAN


def test_consensus_equals_a_brute_force_reference_on_random_frames():
    rng = np.random.default_rng(1)
    base = rng.uniform(80, 300, 300)
    f0s = base * 2 ** (rng.normal(0, 60, (4, 300)) / 1200)
    f0s[rng.random((4, 300)) < 0.15] *= 0.5
    f0s[rng.random((4, 300)) < 0.25] = 0.0
    f0s[rng.random((4, 300)) < 0.1] = NAN
    f0s[:, :20] = 0.0
    want = [_consensus_reference(list(f0s[:, t])) for t in range(300)]
    np.testing.assert_allclose(consensus(f0s), want, rtol=1e-12, equal_nan=True)
    counts = consensus_counts(consensus(f0s))
    assert min(counts["voiced"], counts["unvoiced"], counts["masked"]) > 0


def test_consensus_refuses_what_it_cannot_decide():
    with pytest.raises(ValueError):
        consensus([np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError):
        consensus([np.zeros(3), np.zeros(3)], min_voiced=1)
    assert isinstance(pair_agreement(A, B), PairAgreement)
