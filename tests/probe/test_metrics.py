import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import mean_squared_error, r2_score

from pitchprobe.probe.metrics import Scores, metric, smooth_prototype, utterance_sums


def _pred(p_hz: np.ndarray) -> np.ndarray:
    """(1, T, 3) predictions: the Hz probes predict ``p_hz``, the log probe log(p_hz)."""
    return np.stack([p_hz, p_hz, np.log(np.clip(p_hz, 1e-3, None))], axis=1)[None]


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
    pred = rng.normal(150, 40, (5, 200, 3))
    pred[..., 2] = np.log(np.abs(pred[..., 2]) + 1)
    a = utterance_sums(pred, f0, f0_min=60, f0_max=500)
    b = utterance_sums(torch.tensor(pred), torch.tensor(f0), f0_min=60, f0_max=500)
    for k in a:
        np.testing.assert_allclose(b[k].numpy(), a[k], rtol=1e-12)
