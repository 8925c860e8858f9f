"""Regression metrics: R^2 and mean absolute error, averaged uniformly over output columns."""

from __future__ import annotations

import numpy as np


def _as_2d(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    return y[:, None] if y.ndim == 1 else y.reshape(len(y), -1)


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination, uniform average over output columns.

    Matches :func:`sklearn.metrics.r2_score` with ``multioutput="uniform_average"``: a column
    with zero variance scores 1.0 if predicted exactly and 0.0 otherwise.

    Parameters
    ----------
    y_true, y_pred
        Arrays of shape (n,) or (n, m).

    Returns
    -------
    float
        Mean R^2 over the m columns (NaN if there are fewer than 2 samples).
    """
    yt, yp = _as_2d(y_true), _as_2d(y_pred)
    if len(yt) < 2:
        return float("nan")
    ss_res = ((yt - yp) ** 2).sum(axis=0)
    ss_tot = ((yt - yt.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res == 0, 1.0, 0.0))
    return float(scores.mean())


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error, uniform average over output columns (in the target's unit)."""
    yt, yp = _as_2d(y_true), _as_2d(y_pred)
    return float(np.abs(yt - yp).mean(axis=0).mean())


#: Share of a reference variance below which a subset of a target (one scenario, one object slot)
#: is, for a probe, a constant: used by the confound table and by the probe's conditional gains.
VARIANCE_FLOOR = 0.01


def negligible_variance(y: np.ndarray, total_var: float, tol: float = 1e-6) -> bool:
    """Whether ``y`` (n,) or (n, k) varies by at most ``tol`` of ``total_var`` (or not at all).

    A subset (one scenario) of a target that barely varies is, for a probe, a constant: its R²
    means nothing there.
    """
    var = float(np.asarray(y, dtype=np.float64).reshape(len(y), -1).var(axis=0).sum())
    return var <= tol * total_var or var == 0.0
