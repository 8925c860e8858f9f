"""Linear centered kernel alignment (CKA), plain and debiased (Kornblith et al. 2019).

Follows the feature-space estimator of ``google-research/representation_similarity``
(``Demo.ipynb``: ``feature_space_linear_cka``); the debiased form uses the unbiased HSIC
estimator of Song et al. (2012) as in Nguyen et al. (2021). Both forms are computed through Gram
matrices when there are fewer rows than features, which gives the same numbers.
"""

from __future__ import annotations

import numpy as np

from probekit.errors import BadOptionError


def _centred(features: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise BadOptionError(f"linear_cka: {name} must be a 2-D (rows, features) array, got shape {x.shape}")
    return x - x.mean(axis=0, keepdims=True)


def _dot_similarity(x: np.ndarray, y: np.ndarray) -> float:
    """||X^T Y||_F^2, through the cheaper of the feature and the Gram form."""
    if x.shape[0] < min(x.shape[1], y.shape[1]):
        return float(np.sum((x @ x.T) * (y @ y.T)))
    return float(np.linalg.norm(x.T @ y) ** 2)


def _debiased(xty: float, rows_x: np.ndarray, rows_y: np.ndarray, n: int) -> float:
    """Unbiased HSIC up to a positive factor that cancels in the CKA ratio (the notebook's helper)."""
    return xty - n / (n - 2.0) * float(rows_x @ rows_y) + float(rows_x.sum() * rows_y.sum()) / ((n - 1.0) * (n - 2.0))


def linear_cka(x: np.ndarray, y: np.ndarray, *, debiased: bool = False) -> float:
    """Linear CKA between two representations of the same rows.

    Parameters
    ----------
    x, y
        (n, p) and (n, q) features of the same n examples (clips, or clip-time steps).
    debiased
        Use the unbiased HSIC estimator (needs n > 3). The debiased value can be negative for
        unrelated representations; when either self-similarity estimate is not positive the
        result is NaN (there is no meaningful normalisation).

    Returns
    -------
    float
        CKA in [0, 1] (the debiased form may fall slightly below 0); NaN when a representation
        is constant.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(50, 4))
    >>> round(linear_cka(x, 3.0 * x), 6)
    1.0
    """
    xc, yc = _centred(x, "x"), _centred(y, "y")
    if xc.shape[0] != yc.shape[0]:
        raise BadOptionError(f"linear_cka: x has {xc.shape[0]} rows and y {yc.shape[0]}; give the same examples to both")
    n = xc.shape[0]
    xty, xtx, yty = _dot_similarity(xc, yc), _dot_similarity(xc, xc), _dot_similarity(yc, yc)
    if debiased:
        if n < 4:
            raise BadOptionError(f"linear_cka: debiased CKA needs at least 4 rows, got {n}")
        rows_x, rows_y = np.einsum("ij,ij->i", xc, xc), np.einsum("ij,ij->i", yc, yc)
        xty = _debiased(xty, rows_x, rows_y, n)
        xtx = _debiased(xtx, rows_x, rows_x, n)
        yty = _debiased(yty, rows_y, rows_y, n)
    if not (xtx > 0 and yty > 0):
        return float("nan")
    return float(xty / np.sqrt(xtx * yty))


__all__ = ["linear_cka"]
