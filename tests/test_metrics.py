import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import mean_squared_error, r2_score

from pitchprobe.metrics import FitSums, VoicedMetrics, smooth_prototype


def test_fit_sums_match_reference_metrics_when_streamed():
    rng = np.random.default_rng(0)
    y = rng.uniform(80, 300, 1000)
    p = y + rng.normal(scale=20, size=1000)
    s = FitSums()
    for i in range(0, 1000, 77):
        s.add(p[i : i + 77], y[i : i + 77])
    assert np.isclose(s.mse(), mean_squared_error(y, p), rtol=1e-12)
    assert np.isclose(s.r2(), r2_score(y, p), rtol=1e-10)
    assert np.isclose(s.r(), pearsonr(p, y)[0], rtol=1e-10)
    const = FitSums()
    const.add(np.full(10, 5.0), y[:10])
    assert const.r() is None


def test_prototype_smoothing():
    p = np.array([100.0, 200.0, 50.0, 40.0, 300.0])
    out = smooth_prototype(p, floor_hz=60.0)
    np.testing.assert_allclose(out, [100.0, 150.0, 125.0, 0.0, 170.0])


def test_cents_are_log_ratio_with_prediction_clipped_to_label_range():
    m = VoicedMetrics(f0_min=60.0, f0_max=400.0)
    y = np.array([100.0, 200.0, 100.0])
    p = np.array([200.0, 200.0, -50.0])  # an octave, exact, and no pitch (clipped to 60 Hz)
    m.add(pred=p, y=y, pred_hz=p, y_hz=y)
    res = m.result()
    cents = np.array([1200.0, 0.0, 1200 * np.log2(60 / 100)])
    assert np.isclose(res["rmse_cents"], np.sqrt(np.mean(cents**2)))
    assert np.isclose(res["rmse_hz"], np.sqrt(np.mean((p - y) ** 2)))
