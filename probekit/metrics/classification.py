"""Binary classification metrics on labels in {0, 1} and real-valued scores."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def _binary(y: np.ndarray) -> np.ndarray:
    return np.asarray(y).astype(bool).ravel()


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of correct hard predictions."""
    yt, yp = _binary(y_true), _binary(y_pred)
    return float((yt == yp).mean()) if len(yt) else float("nan")


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean of the recall of each class present in ``y_true`` (sklearn's definition)."""
    yt, yp = _binary(y_true), _binary(y_pred)
    recalls = [float((yp[yt == c] == c).mean()) for c in (False, True) if (yt == c).any()]
    return float(np.mean(recalls)) if recalls else float("nan")


def base_rate(y_true: np.ndarray) -> float:
    """Share of positives; the accuracy of always answering the majority class is max(p, 1-p)."""
    yt = _binary(y_true)
    return float(yt.mean()) if len(yt) else float("nan")


def auroc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tie correction); NaN with one class."""
    yt = _binary(y_true)
    s = np.asarray(score, dtype=np.float64).ravel()
    n_pos, n_neg = int(yt.sum()), int((~yt).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[yt].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (step-wise, no interpolation).

    Matches :func:`sklearn.metrics.average_precision_score`; NaN without positives.
    """
    yt = _binary(y_true)
    s = np.asarray(score, dtype=np.float64).ravel()
    n_pos = int(yt.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], yt[order]
    # one threshold per distinct score: the last index of each run of equal scores
    last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(s_sorted) - 1]
    tp = np.cumsum(y_sorted)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / n_pos
    recall_prev = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - recall_prev) * precision))
