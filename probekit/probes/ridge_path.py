"""Fast ridge with cross-validated alphas from per-fold sufficient statistics.

One pass over the data per layer computes, for each fold block ``b``, ``X_b^T X_b``,
``X_b^T Y_b``, the sums of ``X_b`` and ``Y_b``, ``sum Y_b^2`` and the count. Every training set
that is a union of blocks is then a sum of block statistics; one eigendecomposition of its
centred Gram matrix serves all alphas and all targets at once (as in himalaya's
``solve_ridge_cv_svd``), and the held-out squared error of every (alpha, target) pair follows
in closed form from the held-out block's statistics without touching the data again.

With outer folds as blocks, the inner folds of outer fold ``o`` are the other outer blocks, so
the inner training set of (o, i) is "all blocks but o and i": the same for (o, i) and (i, o),
which halves the number of decompositions (K(K-1)/2 + K for K folds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Default alpha grid (absolute, features are not rescaled).
DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 7, 11))


@dataclass
class BlockStats:
    """Sufficient statistics of each fold block (float64)."""

    n: np.ndarray  # (B,)
    xsum: np.ndarray  # (B, D)
    ysum: np.ndarray  # (B, m)
    xtx: np.ndarray  # (B, D, D)
    xty: np.ndarray  # (B, D, m)
    yty: np.ndarray  # (B, m) sum of squares per column

    @classmethod
    def compute(cls, X: np.ndarray, Y: np.ndarray, block: np.ndarray, n_blocks: int) -> "BlockStats":
        """Statistics of rows of ``X`` (n, D) and ``Y`` (n, m) grouped by ``block`` (n,) ints."""
        X = np.asarray(X)
        Y = np.asarray(Y, dtype=np.float64).reshape(len(X), -1)
        d, m = X.shape[1], Y.shape[1]
        out = cls(
            n=np.zeros(n_blocks),
            xsum=np.zeros((n_blocks, d)),
            ysum=np.zeros((n_blocks, m)),
            xtx=np.zeros((n_blocks, d, d)),
            xty=np.zeros((n_blocks, d, m)),
            yty=np.zeros((n_blocks, m)),
        )
        for b in range(n_blocks):
            rows = np.flatnonzero(block == b)
            if len(rows) == 0:
                continue
            xb = X[rows].astype(np.float64, copy=False)
            yb = Y[rows]
            out.n[b] = len(rows)
            out.xsum[b] = xb.sum(axis=0)
            out.ysum[b] = yb.sum(axis=0)
            out.xtx[b] = xb.T @ xb
            out.xty[b] = xb.T @ yb
            out.yty[b] = (yb**2).sum(axis=0)
        return out

    def total(self, blocks: list[int] | np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Summed statistics (n, xsum, ysum, xtx, xty, yty) over ``blocks``."""
        idx = np.asarray(list(blocks), dtype=int)
        return (
            float(self.n[idx].sum()),
            self.xsum[idx].sum(axis=0),
            self.ysum[idx].sum(axis=0),
            self.xtx[idx].sum(axis=0),
            self.xty[idx].sum(axis=0),
            self.yty[idx].sum(axis=0),
        )


@dataclass
class _Eigen:
    s: np.ndarray  # eigenvalues (r,)
    v: np.ndarray  # eigenvectors (D, r)
    q: np.ndarray  # V^T Xc^T Yc (r, m)
    x_mean: np.ndarray
    y_mean: np.ndarray


def _centred_eigen(stats: BlockStats, blocks: list[int], fit_intercept: bool) -> _Eigen:
    n, xs, ys, xtx, xty, _ = stats.total(blocks)
    if fit_intercept and n > 0:
        mx, my = xs / n, ys / n
        gram = xtx - n * np.outer(mx, mx)
        cross = xty - n * np.outer(mx, my)
    else:
        mx, my = np.zeros_like(xs), np.zeros_like(ys)
        gram, cross = xtx, xty
    s, v = np.linalg.eigh(gram)
    s = np.clip(s, 0.0, None)
    return _Eigen(s=s, v=v, q=v.T @ cross, x_mean=mx, y_mean=my)


def _heldout_sse(eig: _Eigen, stats: BlockStats, block: int, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared error (n_alphas, m) on ``block`` of the ridge fit ``eig``, and the total SS (m,)."""
    n = stats.n[block]
    xs, ys, xtx, xty, yty = stats.xsum[block], stats.ysum[block], stats.xtx[block], stats.xty[block], stats.yty[block]
    mx, my = eig.x_mean, eig.y_mean
    # centred (by the training means) cross products of the held-out block
    cxx = xtx - np.outer(mx, xs) - np.outer(xs, mx) + n * np.outer(mx, mx)
    cxy = xty - np.outer(mx, ys) - np.outer(xs, my) + n * np.outer(mx, my)
    r0 = yty - 2.0 * my * ys + n * my**2  # ||y_val - y_mean_train||^2 per column
    zz = eig.v.T @ cxx @ eig.v  # (r, r)
    zr = eig.v.T @ cxy  # (r, m)
    sse = np.empty((len(alphas), len(r0)))
    for a, alpha in enumerate(alphas):
        dq = eig.q / (eig.s + alpha)[:, None]  # (r, m): coefficients in the eigenbasis
        sse[a] = r0 - 2.0 * (zr * dq).sum(axis=0) + (dq * (zz @ dq)).sum(axis=0)
    return sse, r0


def select_alphas(
    stats: BlockStats,
    train_blocks: list[int],
    alphas: np.ndarray,
    fit_intercept: bool = True,
    cache: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Choose one alpha per target by leave-one-block-out CV over ``train_blocks``.

    Parameters
    ----------
    stats
        Block statistics.
    train_blocks
        The blocks available for training; each serves once as the inner validation fold.
    alphas
        Alpha grid.
    fit_intercept
        Centre features and targets by the inner training means.
    cache
        Optional dict reused across calls: decompositions keyed by the frozenset of the blocks
        they were fitted on.

    Returns
    -------
    best_alpha : (m,)
        Alpha with the smallest pooled held-out squared error per target.
    inner_r2 : (m,)
        Pooled inner-CV R^2 (1 - SSE / SS around the inner training mean) at that alpha.
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    sse_total, ss_total = 0.0, 0.0
    for held in train_blocks:
        rest = [b for b in train_blocks if b != held]
        key = (frozenset(rest), fit_intercept)
        eig = cache.get(key) if cache is not None else None
        if eig is None:
            eig = _centred_eigen(stats, rest, fit_intercept)
            if cache is not None:
                cache[key] = eig
        sse, r0 = _heldout_sse(eig, stats, held, alphas)
        sse_total = sse_total + sse
        ss_total = ss_total + r0
    best = np.argmin(sse_total, axis=0)
    cols = np.arange(sse_total.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        inner_r2 = np.where(ss_total > 0, 1.0 - sse_total[best, cols] / ss_total, 0.0)
    return alphas[best], inner_r2


def fit_ridge(
    stats: BlockStats,
    train_blocks: list[int],
    alpha: np.ndarray,
    fit_intercept: bool = True,
    cache: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge coefficients (D, m) and intercepts (m,) on ``train_blocks``, one alpha per target."""
    key = (frozenset(train_blocks), fit_intercept)
    eig = cache.get(key) if cache is not None else None
    if eig is None:
        eig = _centred_eigen(stats, list(train_blocks), fit_intercept)
        if cache is not None:
            cache[key] = eig
    alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (eig.q.shape[1],))
    coef = eig.v @ (eig.q / (eig.s[:, None] + alpha[None, :]))
    intercept = eig.y_mean - eig.x_mean @ coef
    return coef, intercept


def nested_ridge(
    X: np.ndarray,
    Y: np.ndarray,
    fold: np.ndarray,
    n_folds: int,
    alphas: np.ndarray = DEFAULT_ALPHAS,
    fit_intercept: bool = True,
) -> list[dict]:
    """Outer K-fold ridge with alphas chosen by inner CV over the other folds.

    Parameters
    ----------
    X, Y
        (n, D) features and (n, m) targets.
    fold
        (n,) outer fold of each sample (e.g. from a grouped K-fold).
    n_folds
        Number of folds.

    Returns
    -------
    list of dict
        Per outer fold: ``test`` (indices), ``pred`` (n_test, m), ``alpha`` (m,),
        ``inner_score`` (m,), ``coef`` (D, m), ``intercept`` (m,).
    """
    X = np.asarray(X)
    Y2 = np.asarray(Y, dtype=np.float64).reshape(len(X), -1)
    stats = BlockStats.compute(X, Y2, fold, n_folds)
    cache: dict = {}
    out = []
    for o in range(n_folds):
        train_blocks = [b for b in range(n_folds) if b != o and stats.n[b] > 0]
        alpha, inner = select_alphas(stats, train_blocks, alphas, fit_intercept, cache)
        coef, intercept = fit_ridge(stats, train_blocks, alpha, fit_intercept, cache)
        test = np.flatnonzero(fold == o)
        pred = X[test].astype(np.float64) @ coef + intercept
        out.append({"test": test, "pred": pred, "alpha": alpha, "inner_score": inner, "coef": coef, "intercept": intercept})
    return out
