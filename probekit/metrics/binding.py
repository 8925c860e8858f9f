"""Slot-binding metrics: do token clusters match the objects' masks on the token grid.

Pure functions on integer label grids. Ground truth comes from :func:`labels_from_coverage`
(0 = background, ``k + 1`` = object slot ``k``); predictions are cluster ids ``0 .. C-1``. The
conventions are those of the object-centric learning framework (ocl, ``ocl/metrics``), see
``docs/formats.md`` ("Binding table"):

- :func:`fg_ari`: adjusted Rand index over foreground points only, in float64; where its
  denominator is 0 (all foreground in one true and one predicted group, or at most one point per
  group) the score is 1.0, where DeepMind's ``multi_object_datasets`` code returns NaN.
- :func:`mask_overlaps`: mean best overlap (mBO: each object takes its best-overlapping
  cluster, a cluster may be reused) and Hungarian mIoU (one-to-one matching by
  :func:`scipy.optimize.linear_sum_assignment`); objects without points are dropped, an empty
  predicted cluster has IoU 0 and an object left unmatched (more objects than clusters) scores 0.
- :func:`identity_consistency`: how often an object's majority cluster in a frame is its
  majority cluster over the clip.

Video inputs are flattened over time (one score per clip), as ocl does.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

#: Label of background points in ground-truth grids.
BACKGROUND = 0


def labels_from_coverage(coverage: np.ndarray) -> np.ndarray:
    """Ground-truth label of each token: argmax over background and the objects' coverage.

    Parameters
    ----------
    coverage
        (..., K, H, W) fraction of each token covered by each object slot (visible masks).

    Returns
    -------
    numpy.ndarray
        (..., H, W) int: 0 where background covers most of the token (1 - total object
        coverage), else ``k + 1`` for the object slot ``k`` covering most; ties go to the
        lower label (background first).
    """
    cov = np.nan_to_num(np.asarray(coverage, dtype=np.float64))
    background = np.clip(1.0 - cov.sum(axis=-3, keepdims=True), 0.0, None)
    return np.argmax(np.concatenate([background, cov], axis=-3), axis=-3)


def _contingency(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """(n_true, n_pred) float64 counts of points per (true label, predicted cluster)."""
    true = np.asarray(true).ravel().astype(np.int64)
    pred = np.asarray(pred).ravel().astype(np.int64)
    if true.shape != pred.shape:
        raise ValueError(f"label grids differ in size: {true.shape} vs {pred.shape}")
    if true.size == 0:
        return np.zeros((1, 1))
    n_true, n_pred = int(true.max()) + 1, int(pred.max()) + 1
    return np.bincount(true * n_pred + pred, minlength=n_true * n_pred).reshape(n_true, n_pred).astype(np.float64)


def fg_ari(true: np.ndarray, pred: np.ndarray) -> float:
    """Foreground adjusted Rand index (ocl's ``fg_adjusted_rand_index``), float64.

    Parameters
    ----------
    true
        Ground-truth labels (any shape; 0 = background, ignored).
    pred
        Predicted cluster ids, same shape (background points' predictions are ignored).

    Returns
    -------
    float
        The ARI of the predicted partition of the foreground points; 1.0 where the denominator
        is 0 (ocl), which covers DeepMind's NaN cases (one object in one cluster while the
        background takes another; no foreground at all).
    """
    n_ij = _contingency(true, pred)[1:]  # drop the background row
    a = n_ij.sum(axis=1)
    b = n_ij.sum(axis=0)
    n = a.sum()
    rindex = (n_ij * (n_ij - 1)).sum()
    aindex = (a * (a - 1)).sum()
    bindex = (b * (b - 1)).sum()
    expected = aindex * bindex / max(n * (n - 1), 1.0)
    denominator = (aindex + bindex) / 2.0 - expected
    return float((rindex - expected) / denominator) if denominator > 0 else 1.0


def mask_overlaps(true: np.ndarray, pred: np.ndarray, n_clusters: int) -> tuple[float, float]:
    """Mean best overlap and Hungarian mean IoU of the objects (ocl's mask IoU metrics).

    Parameters
    ----------
    true
        Ground-truth labels (0 = background, not an object: ocl's ``ignore_background``).
    pred
        Predicted cluster ids in ``0 .. n_clusters - 1``.
    n_clusters
        Number of predicted clusters C (clusters without points count, with IoU 0).

    Returns
    -------
    (mbo, miou)
        Means over the objects that have at least one point; NaN when there is none (ocl
        skips such samples).
    """
    true = np.asarray(true).ravel()
    pred = np.asarray(pred).ravel()
    objects = [label for label in np.unique(true) if label != BACKGROUND]
    if not objects:
        return float("nan"), float("nan")
    pred_oh = pred[None, :] == np.arange(n_clusters)[:, None]  # (C, N)
    true_oh = true[None, :] == np.asarray(objects)[:, None]  # (K, N)
    inter = pred_oh.astype(np.float64) @ true_oh.T.astype(np.float64)  # (C, K)
    union = pred_oh.sum(axis=1)[:, None] + true_oh.sum(axis=1)[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    best = iou.max(axis=0)
    rows, cols = linear_sum_assignment(iou, maximize=True)
    matched = np.zeros(len(objects))
    matched[cols] = iou[rows, cols]
    return float(best.mean()), float(matched.mean())


def identity_consistency(true: np.ndarray, pred: np.ndarray) -> float:
    """Share of frames in which each object's majority cluster is its usual one.

    Parameters
    ----------
    true, pred
        (T, ...) ground-truth labels and cluster ids of one clip, first axis time (the clusters
        of one clustering of the whole clip, so that cluster ids mean the same in every frame).

    Returns
    -------
    float
        For each object present in at least two frames: its majority cluster per frame, and the
        fraction of those frames whose majority is the most frequent one; averaged over objects.
        1.0 when every object keeps one cluster; NaN when no object is present in two frames.
    """
    true = np.asarray(true).reshape(len(true), -1)
    pred = np.asarray(pred).reshape(len(pred), -1)
    scores = []
    for label in np.unique(true):
        if label == BACKGROUND:
            continue
        majority = [np.bincount(pred[t][true[t] == label]).argmax() for t in range(len(true)) if (true[t] == label).any()]
        if len(majority) < 2:
            continue
        scores.append(np.bincount(majority).max() / len(majority))
    return float(np.mean(scores)) if scores else float("nan")


def n_objects(true: np.ndarray) -> int:
    """Number of objects with at least one point in a ground-truth grid."""
    return int(sum(1 for label in np.unique(true) if label != BACKGROUND))


__all__ = ["BACKGROUND", "fg_ari", "identity_consistency", "labels_from_coverage", "mask_overlaps", "n_objects"]
