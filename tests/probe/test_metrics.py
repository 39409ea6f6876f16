import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import mean_squared_error, r2_score

from pitchprobe.probe.metrics import Scores, metric, smooth_prototype, utterance_sums


def _pred(p_hz: np.ndarray) -> np.ndarray:
    """(1, T, 6) predictions: the Hz probes predict ``p_hz``, the log probe log(p_hz), the others 0."""
    zero = np.zeros_like(p_hz)
    return np.stack([p_hz, p_hz, np.log(np.clip(p_hz, 1e-3, None)), zero, zero, zero], axis=1)[None]


def test_streamed_sums_match_reference_metrics():
    rng = np.random.default_rng(0)
    y = rng.uniform(80, 300, 1000)
    p = y + rng.normal(scale=20, size=1000)
    s = Scores(1, f0_min=60.0, f0_max=400.0)
    for i in range(0, 1000, 77):
        s.add(_pred(p[i : i + 77]), y[i : i + 77])
    m = s.metrics(0)
    assert np.isclose(m["f0_all"]["mse_hz2"], mean_squared_error(y, p), rtol=1e-12)
    assert np.isclose(m["f0_voiced"]["r2"], r2_score(y, p), rtol=1e-10)
    assert np.isclose(m["f0_voiced"]["r"], pearsonr(p, y)[0], rtol=1e-10)
    assert np.isclose(m["logf0_voiced"]["r"], pearsonr(np.log(p), np.log(y))[0], rtol=1e-10)
    const = Scores(1, f0_min=60.0, f0_max=400.0)
    const.add(_pred(np.full(10, 150.0)), y[:10])
    assert const.metrics(0)["f0_voiced"]["r"] is None


def test_sum_of_utterance_sums_is_the_streamed_total():
    rng = np.random.default_rng(1)
    utts = [(rng.uniform(90, 250, n), rng.integers(0, 2, n)) for n in (5, 40, 17)]
    s = Scores(2, f0_min=60.0, f0_max=400.0)
    total = None
    for p, voiced in utts:
        y = np.where(voiced > 0, p * 1.1, 0.0)
        pred = np.concatenate([_pred(p), _pred(p + 3)])
        one = utterance_sums(pred, y, f0_min=60.0, f0_max=400.0)
        s.add(pred, y)
        total = one if total is None else {k: total[k] + one[k] for k in one}
    for k in total:
        np.testing.assert_allclose(s.total[k], total[k])
    assert np.isclose(metric(total, "f0_voiced", "r")[1], s.metrics(1)["f0_voiced"]["r"])


def test_prototype_smoothing():
    p = np.array([100.0, 200.0, 50.0, 40.0, 300.0])
    out = smooth_prototype(p, floor_hz=60.0)
    np.testing.assert_allclose(out, [100.0, 150.0, 125.0, 0.0, 170.0])


def test_cents_are_log_ratio_with_prediction_clipped_to_label_range():
    s = Scores(1, f0_min=60.0, f0_max=400.0)
    y = np.array([100.0, 200.0, 100.0])
    p = np.array([200.0, 200.0, -50.0])  # an octave, exact, and no pitch (clipped to 60 Hz)
    s.add(_pred(p), y)
    res = s.metrics(0)["f0_voiced"]
    cents = np.array([1200.0, 0.0, 1200 * np.log2(60 / 100)])
    assert np.isclose(res["rmse_cents"], np.sqrt(np.mean(cents**2)))
    assert np.isclose(res["rmse_hz"], np.sqrt(np.mean((p - y) ** 2)))


def test_sums_in_torch_equal_sums_in_numpy():
    import torch

    rng = np.random.default_rng(3)
    f0 = np.where(rng.random(200) < 0.6, rng.uniform(80, 300, 200), 0.0)
    pred = rng.normal(150, 40, (5, 200, 6))
    pred[..., 2] = np.log(np.abs(pred[..., 2]) + 1)
    pred[..., 3:] = rng.normal(0, 2, (5, 200, 3))
    pred[..., 4] = rng.uniform(-0.2, 1.2, (5, 200))
    thr = rng.uniform(0.3, 0.7, 5)
    for n in (200, 199):  # even and odd voiced counts: both medians agree with numpy's
        a = utterance_sums(pred[:, :n], f0[:n], f0_min=60, f0_max=500, threshold=thr)
        b = utterance_sums(
            torch.tensor(pred[:, :n]), torch.tensor(f0[:n]), f0_min=60, f0_max=500, threshold=torch.tensor(thr)
        )
        for k in a:
            np.testing.assert_allclose(b[k].numpy(), a[k], rtol=1e-12, atol=1e-9)


def _utterances(rng, n_utts=12):
    """Utterances of random length with voiced and unvoiced frames: (f0 (T,), pred (2, T, 6))."""
    out = []
    for _ in range(n_utts):
        t = int(rng.integers(20, 80))
        f0 = np.where(rng.random(t) < 0.7, rng.uniform(90, 260, t), 0.0)
        pred = rng.normal(0, 1, (2, t, 6))
        pred[..., 4] = (f0 > 0) * 0.6 + rng.normal(0.2, 0.3, (2, t))
        pred[..., 3] = 12 * np.log2(np.where(f0 > 0, f0, 1.0) / 150) + rng.normal(0, 2, (2, t))
        out.append((f0, pred))
    return out


def test_within_utterance_r_is_the_voiced_frame_weighted_mean_of_each_utterances_pearson_r():
    rng = np.random.default_rng(5)
    utts = _utterances(rng)
    s = Scores(2, f0_min=60.0, f0_max=400.0)
    rs, ws = [], []
    for f0, pred in utts:
        s.add(pred, f0)
        v = f0 > 0
        st = 12 * np.log2(f0[v] / np.median(f0[v]))
        rs.append(pearsonr(pred[1, v, 3], st)[0])
        ws.append(v.sum())
    want = np.average(rs, weights=ws)
    assert np.isclose(s.metrics(1)["st_utt"]["r_within"], want, rtol=1e-10)
    # the pooled r is a different number: one correlation over every frame
    pooled_p = np.concatenate([p[1, f > 0, 3] for f, p in utts])
    pooled_y = np.concatenate([12 * np.log2(f[f > 0] / np.median(f[f > 0])) for f, _ in utts])
    assert np.isclose(s.metrics(1)["st_utt"]["r"], pearsonr(pooled_p, pooled_y)[0], rtol=1e-10)


def test_voicing_balanced_accuracy_and_auc_equal_scikit_learn():
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    rng = np.random.default_rng(6)
    utts = _utterances(rng)
    thr = np.array([0.45, 0.6])
    s = Scores(2, f0_min=60.0, f0_max=400.0, threshold=thr)
    for f0, pred in utts:
        s.add(pred, f0)
    truth = np.concatenate([f > 0 for f, _ in utts])
    for i in range(2):
        score = np.concatenate([p[i, :, 4] for _, p in utts])
        m = s.metrics(i)["voicing"]
        assert np.isclose(m["balanced_accuracy"], balanced_accuracy_score(truth, score >= thr[i]), rtol=1e-12)
        assert abs(m["auc"] - roc_auc_score(truth, score)) < 2e-3  # binned at 0.005: ties within a bin count half


def test_register_is_scored_per_utterance_on_the_mean_of_its_frame_predictions():
    rng = np.random.default_rng(7)
    utts = _utterances(rng) + [(np.zeros(30), rng.normal(0, 1, (2, 30, 6)))]  # no voiced frame: no register
    s = Scores(2, f0_min=60.0, f0_max=400.0)
    for f0, pred in utts:
        s.add(pred, f0)
    truth = [12 * np.log2(np.median(f[f > 0]) / 100) for f, _ in utts[:-1]]
    pred = [p[0, :, 5].mean() for _, p in utts[:-1]]
    m = s.metrics(0)["register"]
    assert m["voiced_frames"] == len(truth)  # utterances
    assert np.isclose(m["r"], pearsonr(pred, truth)[0], rtol=1e-10)
    assert np.isclose(m["rmse_st"], np.sqrt(mean_squared_error(truth, pred)), rtol=1e-10)
    assert np.isclose(m["r2"], r2_score(truth, pred), rtol=1e-10)


def test_log_f0_mse_on_voiced_frames():
    y = np.array([100.0, 0.0, 200.0])
    p = np.array([110.0, 90.0, 180.0])
    s = Scores(1, f0_min=60.0, f0_max=400.0)
    s.add(_pred(p), y)
    want = np.mean((np.log(p[[0, 2]]) - np.log(y[[0, 2]])) ** 2)
    assert np.isclose(s.metrics(0)["logf0_voiced"]["mse_log"], want, rtol=1e-12)


def test_non_finite_voicing_scores_are_left_out_of_the_roc_histogram():
    f0 = np.array([120.0, 0.0, 130.0, 0.0, 140.0])
    pred = np.zeros((1, 5, 6))
    pred[0, :, 4] = [0.9, 0.1, np.nan, 0.2, np.inf]
    sums = utterance_sums(pred, f0, f0_min=60.0, f0_max=400.0)
    assert sums["voicing.hist_pos"].sum() == 1 and sums["voicing.hist_neg"].sum() == 2
    assert metric(sums, "voicing", "auc")[0] == 1.0  # the one finite voiced score beats both unvoiced ones
