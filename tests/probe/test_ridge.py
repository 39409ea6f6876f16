import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression, Ridge

from pitchprobe.core.errors import NoDevFramesError
from pitchprobe.probe import ridge


def make_sums(x, y, chunk=None, shift=None):
    shift = torch.as_tensor(x[:50].mean(0) if shift is None else shift)
    s = ridge.Sums(x.shape[1], y.shape[1], shift)
    chunk = chunk or len(x)
    for i in range(0, len(x), chunk):
        s.add(torch.as_tensor(x[i : i + chunk]), torch.as_tensor(y[i : i + chunk]))
    return s


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    # badly scaled, offset features, as hidden states are
    x = rng.normal(size=(2000, 30)) * rng.uniform(0.01, 30, 30) + rng.normal(scale=100, size=30)
    y = x @ rng.normal(size=(30, 2)) + np.array([5.0, -3.0]) + rng.normal(scale=2.0, size=(2000, 2))
    return x, y


@pytest.mark.parametrize("alpha", [0.0, 1e-3, 10.0, 1e4])
def test_matches_scikit_learn(data, alpha):
    x, y = data
    sol = ridge.fit(make_sums(x, y, chunk=333), [alpha])
    ref = (LinearRegression() if alpha == 0 else Ridge(alpha=alpha)).fit(x, y)
    np.testing.assert_allclose(sol.coef[0], ref.coef_.T, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(sol.intercept[0], ref.intercept_, rtol=1e-6, atol=1e-6)
    pred = x @ sol.coef[0] + sol.intercept[0]
    np.testing.assert_allclose(pred, ref.predict(x), rtol=1e-6, atol=1e-6)


def test_streaming_equals_one_batch_and_closed_form_sse_equals_explicit(data):
    x, y = data
    one, many = make_sums(x, y), make_sums(x, y, chunk=7)
    for name in ("sx", "xtx", "sy", "xty", "yty"):
        np.testing.assert_allclose(getattr(one, name).numpy(), getattr(many, name).numpy(), rtol=1e-10)
    sol = ridge.fit(many, [0.0, 5.0])
    dev_x, dev_y = x[:500] + 0.5, y[:500] * 1.1
    dev = make_sums(dev_x, dev_y, shift=many.shift.numpy())
    explicit = np.stack([((dev_x @ sol.coef[a] + sol.intercept[a] - dev_y) ** 2).sum(0) for a in range(2)])
    np.testing.assert_allclose(ridge.sse(dev, sol), explicit, rtol=1e-8)


def test_planted_linear_signal_is_recovered():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3000, 12)) * 4 + 7
    w, b = rng.normal(size=12), 150.0
    y = (x @ w + b)[:, None]
    sol = ridge.fit(make_sums(x, y, chunk=100), [0.0])
    np.testing.assert_allclose(sol.coef[0, :, 0], w, rtol=1e-8)
    np.testing.assert_allclose(sol.intercept[0, 0], b, rtol=1e-8)


def test_singular_design_gives_minimum_norm_least_squares():
    rng = np.random.default_rng(3)
    base = rng.normal(size=(500, 4))
    x = np.concatenate([base, base[:, :2] * 2.0], axis=1)  # rank 4 of 6
    y = (base @ np.array([1.0, -2.0, 0.5, 3.0]) + 1.0)[:, None]
    sol = ridge.fit(make_sums(x, y), [0.0])
    ref = LinearRegression().fit(x, y[:, 0])
    np.testing.assert_allclose(sol.coef[0, :, 0], ref.coef_, atol=1e-7)
    np.testing.assert_allclose(x @ sol.coef[0, :, 0] + sol.intercept[0, 0], y[:, 0], atol=1e-7)


def test_choose_picks_the_alpha_with_lowest_dev_error(data):
    x, y = data
    train = make_sums(x[:300], y[:300])
    dev = make_sums(x[1000:], y[1000:], shift=train.shift.numpy())
    chosen, dev_mse = ridge.choose(train, dev, alpha=None)
    grid = ridge.alpha_grid(train)
    brute = []
    for a in grid:
        m = (LinearRegression() if a == 0 else Ridge(alpha=a)).fit(x[:300], y[:300])
        brute.append(((m.predict(x[1000:]) - y[1000:]) ** 2).mean(0))
    brute = np.array(brute)
    np.testing.assert_allclose(dev_mse, brute, rtol=1e-6)
    np.testing.assert_array_equal(chosen.alphas, grid[brute.argmin(0)])
    fixed, _ = ridge.choose(train, dev, alpha=2.5)
    np.testing.assert_array_equal(fixed.alphas, [2.5, 2.5])
    with pytest.raises(NoDevFramesError, match="no dev frames") as e:
        ridge.choose(train, None, alpha=None)
    assert "--alpha" in str(e.value) and "--split-ratios" in str(e.value)  # the message names the ways out


def test_blocked_gram_equals_the_full_product():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(700, 300)) * 3 + 1
    s = make_sums(x, rng.normal(size=(700, 1)), chunk=123, shift=np.zeros(300))
    np.testing.assert_allclose(s.xtx.numpy(), x.T @ x, rtol=1e-12)


@pytest.mark.parametrize("dim", [30, 300])  # the plain and the blocked product
def test_float32_products_into_float64_sums_stay_within_their_bound(dim):
    """The GPU path for cards with slow float64: per-batch float32 XᵀX added into float64 accumulators."""
    rng = np.random.default_rng(5)
    x = (rng.normal(size=(40 * 500, dim)) * rng.uniform(0.1, 3, dim) + rng.normal(scale=5, size=dim)).astype(np.float32)
    y = x.astype(np.float64) @ rng.normal(size=(dim, 2)) + rng.normal(scale=0.5, size=(len(x), 2))
    shift = torch.as_tensor(x[:50].astype(np.float64).mean(0))
    exact, fast = (ridge.Sums(dim, 2, shift, product_dtype=dt) for dt in (torch.float64, torch.float32))
    for i in range(0, len(x), 500):  # 40 "utterances" of 500 frames
        for s in (exact, fast):
            s.add(torch.as_tensor(x[i : i + 500]), torch.as_tensor(y[i : i + 500]))
    err = float((fast.xtx - exact.xtx).abs().max() / exact.xtx.abs().max())
    assert 0 < err <= 1e-5
    a, b = ridge.fit(exact, [1.0]), ridge.fit(fast, [1.0])
    pred_a, pred_b = x @ a.coef[0] + a.intercept[0], x @ b.coef[0] + b.intercept[0]
    assert np.abs(pred_a - pred_b).max() <= 1e-4 * np.abs(pred_a).max()


def test_float64_products_are_used_where_float64_is_fast():
    assert ridge.gram_dtype(torch.device("cpu")) == torch.float64
    assert ridge.Sums(3, 1, torch.zeros(3, dtype=torch.float64)).product_dtype == torch.float64
    if torch.cuda.is_available():
        want = torch.cuda.get_device_capability() in ridge.FAST_FLOAT64_GPUS
        assert (ridge.gram_dtype(torch.device("cuda")) == torch.float64) == want
