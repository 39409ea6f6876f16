"""Streaming ridge regression with intercept, from sufficient statistics.

One pass over the data accumulates, per layer, float64 sums of a shifted
design ``x - shift`` (``shift`` = mean of the first batch, which keeps the
sums well conditioned): ``n``, ``Σx``, ``XᵀX``, ``Σy``, ``Xᵀy``, ``Σy²`` for
several target columns at once. Memory is O(D²) whatever the number of frames.

The fit is scikit-learn's ``Ridge(alpha, fit_intercept=True)``: the intercept
is not penalised, so with ``C = Σ(x - x̄)(x - x̄)ᵀ`` and ``c = Σ(x - x̄)(y - ȳ)``::

    w = (C + alpha I)⁻¹ c,    b = ȳ - x̄ᵀ w

``alpha = 0`` is ordinary least squares (``LinearRegression``); a singular
``C`` then gets the minimum-norm solution, as ``lstsq`` gives. One eigen-
decomposition of ``C`` serves every alpha of a grid, and the error of each
alpha on another split follows in closed form from that split's sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pitchprobe.core.errors import NoDevFramesError

ALPHA_DECADES = tuple(range(-6, 3))  # grid: 0 and scale * 10**k, scale = trace(C) / D
GRAM_BLOCKS = 4  # block rows of XᵀX computed on or above the diagonal: 10/16 of a full product's flops


FAST_FLOAT64_GPUS = {(6, 0), (7, 0), (8, 0), (9, 0)}  # compute capabilities of P100, V100, A100, H100/H200


def gram_dtype(device: torch.device) -> torch.dtype:
    """The dtype of the per-batch ``XᵀX`` products on ``device``: float64 where it is fast, else float32.

    The CPU and the data-centre GPUs (P100, V100, A100, H100/H200) do float64 at full or half rate; other GPUs
    (consumer and workstation cards) at 1/32 or 1/64, so there each utterance's product is float32 and is
    added into the float64 accumulator. Its error then does not grow with the amount of audio: each
    entry of one utterance's product carries a relative error of at most about ``T * 6e-8`` for ``T``
    frames (typically ``sqrt(T) * 6e-8``). Over 40 utterances of 500 frames it measured 4e-8 of the largest
    entry (D = 30 and 300); ``tests/probe/test_ridge.py`` bounds it at 1e-5. TF32 is not used (torch's
    default for float32 matmuls).
    """
    if device.type != "cuda":
        return torch.float64
    return torch.float64 if torch.cuda.get_device_capability(device) in FAST_FLOAT64_GPUS else torch.float32


def _gram_upper(gram: torch.Tensor, xs: torch.Tensor) -> None:
    """``gram += xs.T @ xs`` on and above the diagonal only (the rest is left as it is).

    ``gram`` is symmetric, so block row ``i`` needs only columns from block
    ``i`` on: 10 of 16 block products, about 37 % fewer flops than a full
    matmul, with the same float64 arithmetic.
    """
    d = xs.shape[1]
    if d < 256:
        _add_product(gram, xs.T, xs)
        return
    edges = [d * i // GRAM_BLOCKS for i in range(GRAM_BLOCKS + 1)]
    for a, b in zip(edges[:-1], edges[1:]):
        _add_product(gram[a:b, a:], xs[:, a:b].T, xs[:, a:])


def _add_product(out: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> None:
    """``out += left @ right``, in place; a product in a lower precision is added in ``out``'s."""
    if left.dtype == out.dtype:
        out.addmm_(left, right)
    else:
        out += (left @ right).to(out.dtype)


class Sums:
    """Sufficient statistics of ``(x, y)`` pairs for one layer.

    Parameters
    ----------
    dim : int
        Feature size D.
    n_targets : int
        Target columns Q.
    shift : torch.Tensor
        float64 (D,), subtracted from every x; share it between Sums that are
        added or compared.
    product_dtype : torch.dtype or None
        Of each batch's ``XᵀX`` product (accumulated in float64 either way);
        None: :func:`gram_dtype` of ``shift``'s device.
    """

    def __init__(self, dim: int, n_targets: int, shift: torch.Tensor, *, product_dtype: torch.dtype | None = None):
        dev = shift.device
        f64 = torch.float64
        self.shift = shift
        self.product_dtype = gram_dtype(dev) if product_dtype is None else product_dtype
        self.n = 0
        self.sx = torch.zeros(dim, dtype=f64, device=dev)
        self._gram = torch.zeros(dim, dim, dtype=f64, device=dev)  # XᵀX, valid on and above the diagonal
        self.sy = torch.zeros(n_targets, dtype=f64, device=dev)
        self.xty = torch.zeros(dim, n_targets, dtype=f64, device=dev)
        self.yty = torch.zeros(n_targets, dtype=f64, device=dev)

    def add(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Accumulate frames: ``x`` (T, D) any float dtype, ``y`` (T, Q) float64, same device."""
        if x.shape[0] == 0:
            return
        xs = x.to(torch.float64) - self.shift
        self.n += int(x.shape[0])
        self.sx += xs.sum(0)
        _gram_upper(self._gram, xs if self.product_dtype == torch.float64 else xs.to(self.product_dtype))
        self.sy += y.sum(0)
        self.xty.addmm_(xs.T, y)
        self.yty += (y * y).sum(0)

    def __add__(self, other: Sums) -> Sums:
        if other.shift is not self.shift and not torch.equal(other.shift, self.shift):
            raise ValueError("cannot add Sums with different shifts")
        out = Sums.__new__(Sums)
        out.shift, out.n, out.product_dtype = self.shift, self.n + other.n, self.product_dtype
        for name in ("sx", "_gram", "sy", "xty", "yty"):
            setattr(out, name, getattr(self, name) + getattr(other, name))
        return out

    def __sub__(self, other: Sums) -> Sums:
        """The sums of the frames of ``self`` that are not in ``other`` (``other`` a part of ``self``)."""
        if other.shift is not self.shift and not torch.equal(other.shift, self.shift):
            raise ValueError("cannot subtract Sums with different shifts")
        out = Sums.__new__(Sums)
        out.shift, out.n, out.product_dtype = self.shift, self.n - other.n, self.product_dtype
        for name in ("sx", "_gram", "sy", "xty", "yty"):
            setattr(out, name, getattr(self, name) - getattr(other, name))
        return out

    def shifted(self, shift: torch.Tensor) -> Sums:
        """The same sums about another ``shift`` (exact algebra, no pass over the frames).

        With ``d = self.shift - shift``, each shifted frame gains ``d``:
        ``Σx' = Σx + n d``, ``X'ᵀX' = XᵀX + Σx dᵀ + d Σxᵀ + n d dᵀ``, ``X'ᵀy = Xᵀy + d Σyᵀ``.
        """
        shift = shift.to(device=self.shift.device, dtype=torch.float64)
        d = self.shift - shift
        out = Sums.__new__(Sums)
        out.shift, out.n, out.product_dtype = shift, self.n, self.product_dtype
        u = self.sx + 0.5 * self.n * d  # u dᵀ + d uᵀ = Σx dᵀ + d Σxᵀ + n d dᵀ: two rank-one updates
        out._gram = self._gram.clone().addr_(u, d).addr_(d, u)
        out.sx = self.sx + self.n * d
        out.sy, out.yty = self.sy.clone(), self.yty.clone()
        out.xty = self.xty + torch.outer(d, self.sy)
        return out

    @property
    def xtx(self) -> torch.Tensor:
        """The full symmetric ``XᵀX`` (D, D), float64."""
        return torch.triu(self._gram) + torch.triu(self._gram, 1).T

    def columns(self, cols: slice | list[int]) -> Sums:
        """The same sums for target columns ``cols`` alone (no copy of ``XᵀX``)."""
        out = Sums.__new__(Sums)
        out.shift, out.n, out.sx, out._gram = self.shift, self.n, self.sx, self._gram
        out.product_dtype = self.product_dtype
        out.sy, out.xty, out.yty = self.sy[cols], self.xty[:, cols], self.yty[cols]
        return out


@dataclass
class RidgeSolution:
    """Fitted probes for every alpha of a grid (numpy float64).

    Attributes
    ----------
    alphas : np.ndarray
        (A,)
    coef : np.ndarray
        (A, D, Q): weights on the *unshifted* features.
    intercept : np.ndarray
        (A, Q): so that ``prediction = x @ coef[a] + intercept[a]``.
    """

    alphas: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray


def alpha_grid(sums: Sums) -> np.ndarray:
    """0, and ``trace(C) / D * 10**k`` for k in :data:`ALPHA_DECADES` (scale-free)."""
    if sums.n == 0:
        return np.array([0.0])
    mx = sums.sx / sums.n
    trace = float((torch.diagonal(sums._gram) - sums.n * mx * mx).sum())
    scale = max(trace / sums.sx.numel(), np.finfo(float).tiny)
    return np.concatenate([[0.0], scale * 10.0 ** np.array(ALPHA_DECADES, dtype=float)])


def fit(sums: Sums, alphas: np.ndarray | list[float]) -> RidgeSolution:
    """Ridge fits for each alpha from training sums (see the module docstring)."""
    alphas = np.asarray(alphas, dtype=np.float64)
    if sums.n < 2:
        raise ValueError("need at least two frames to fit a probe")
    n = sums.n
    mx = sums.sx / n
    my = sums.sy / n
    c_upper = sums._gram - n * torch.outer(mx, mx)  # C, valid on and above the diagonal: all eigh reads
    c_vec = sums.xty - n * torch.outer(mx, my)
    if c_upper.device.type == "cpu":
        # numpy's LAPACK: torch's takes several times longer here right after a forward pass
        lam, vec = np.linalg.eigh(c_upper.numpy(), UPLO="U")
    else:
        lam, vec = (t.cpu().numpy() for t in torch.linalg.eigh(c_upper, UPLO="U"))
    z = vec.T @ c_vec.cpu().numpy()  # (D, Q)
    tol = max(lam.max(initial=0.0), 0.0) * lam.size * np.finfo(np.float64).eps
    coefs = []
    for a in alphas:
        denom = lam + a
        inv = np.where(denom > (tol if a == 0 else 0.0), 1.0 / np.where(denom > 0, denom, 1.0), 0.0)
        coefs.append(vec @ (inv[:, None] * z))
    coef = np.stack(coefs)  # (A, D, Q), in shifted coordinates
    mx_np, my_np, shift = mx.cpu().numpy(), my.cpu().numpy(), sums.shift.cpu().numpy()
    intercept = my_np[None, :] - np.einsum("d,adq->aq", mx_np, coef) - np.einsum("d,adq->aq", shift, coef)
    return RidgeSolution(alphas=alphas, coef=coef, intercept=intercept)


def sse(sums: Sums, sol: RidgeSolution) -> np.ndarray:
    """Sum of squared errors of every fitted probe on the data behind ``sums``: (A, Q).

    Closed form: ``Σ(y - Xw - b)²`` expanded into the sums, so no second pass
    over the frames is needed.
    """
    shift = sums.shift.cpu().numpy()
    upper, xty = np.triu(sums._gram.cpu().numpy()), sums.xty.cpu().numpy()
    sx, sy, yty = sums.sx.cpu().numpy(), sums.sy.cpu().numpy(), sums.yty.cpu().numpy()
    w = sol.coef  # (A, D, Q) on unshifted x; on shifted x the intercept is b + shift·w
    b = sol.intercept + np.einsum("d,adq->aq", shift, w)
    # wᵀ XᵀX w per alpha and target, from the upper triangle U: XᵀX = U + Uᵀ - diag(U)
    quad = 2 * (w * np.matmul(upper[None], w)).sum(1) - np.einsum("d,adq->aq", np.diagonal(upper), w * w)
    lin = np.einsum("adq,dq->aq", w, xty)
    wsx = np.einsum("adq,d->aq", w, sx)
    return yty - 2 * lin - 2 * b * sy + quad + 2 * b * wsx + sums.n * b * b


def choose(train: Sums, dev: Sums | None, *, alpha: float | None) -> tuple[RidgeSolution, np.ndarray]:
    """Fit on ``train``; pick alpha per target column by dev MSE unless ``alpha`` is fixed.

    Returns
    -------
    solution, dev_mse
        ``solution`` holds one alpha per target (A = 1 after selection is
        folded: ``coef`` (Q, D), ``intercept`` (Q,), ``alphas`` (Q,)), and
        ``dev_mse`` is (A_grid, Q) (NaN when no dev frames).
    """
    grid = np.array([alpha]) if alpha is not None else alpha_grid(train)
    sol = fit(train, grid)
    q = train.sy.numel()
    if dev is not None and dev.n > 0:
        dev_mse = sse(dev, sol) / dev.n
    else:
        dev_mse = np.full((grid.size, q), np.nan)
    if alpha is None and np.isnan(dev_mse).all():
        raise NoDevFramesError(
            "no dev frames to choose alpha from: pass a fixed alpha (--alpha X; 0 = least squares), "
            "or give the corpus dev utterances (gather --from-dir with --split-ratios, e.g. 0.6,0.2,0.2)"
        )
    best = np.zeros(q, dtype=int) if alpha is not None else np.nanargmin(dev_mse, axis=0)
    chosen = RidgeSolution(
        alphas=grid[best],
        coef=np.stack([sol.coef[best[j], :, j] for j in range(q)]),
        intercept=np.array([sol.intercept[best[j], j] for j in range(q)]),
    )
    return chosen, dev_mse


def score_moments(s: Sums, w: np.ndarray, b: float) -> tuple[float, float]:
    """Mean and variance of the scores ``x @ w + b`` of the frames behind ``s``."""
    w_t = torch.as_tensor(w, dtype=torch.float64, device=s.sx.device)
    b_shift = b + float(s.shift @ w_t)  # scores on shifted features
    sxw = float(s.sx @ w_t)
    mean = sxw / s.n + b_shift
    second = (float(w_t @ (s.xtx @ w_t)) + 2 * b_shift * sxw + s.n * b_shift**2) / s.n
    return mean, max(second - mean**2, 0.0)


def equal_density_threshold(pos: Sums, neg: Sums, w: np.ndarray, b: float) -> float:
    """The threshold on the scores ``x @ w + b`` where normal fits of the scores of the ``pos`` and the
    ``neg`` frames have equal density (between the two means): the balanced-accuracy optimum for normal
    scores. The midpoint of the means when the variances are equal; 0.5 without frames of both classes."""
    if pos.n == 0 or neg.n == 0:
        return 0.5
    (m1, v1), (m0, v0) = score_moments(pos, w, b), score_moments(neg, w, b)
    if not (v1 > 0 and v0 > 0) or np.isclose(v1, v0, rtol=1e-9):
        return 0.5 * (m1 + m0)
    # (t - m1)^2 / v1 - (t - m0)^2 / v0 + log(v1 / v0) = 0, a quadratic in t
    qa, qb = 1 / v1 - 1 / v0, -2 * (m1 / v1 - m0 / v0)
    qc = m1 * m1 / v1 - m0 * m0 / v0 + np.log(v1 / v0)
    roots = np.roots([qa, qb, qc])
    roots = roots[np.isreal(roots)].real
    lo, hi = min(m0, m1), max(m0, m1)
    inside = roots[(roots >= lo) & (roots <= hi)]
    return float(inside[0]) if inside.size else 0.5 * (m1 + m0)
