"""Out-of-fold predictions of one (store, target, slot, readout, control) at one layer, assembled from the fits of its folds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class OOF:
    """Out-of-fold predictions of one (store, layer, target, slot, readout, control)."""

    idx: np.ndarray  # indices into the task's samples
    pred: np.ndarray
    score: np.ndarray | None
    fold: np.ndarray
    inner: np.ndarray  # (n_folds,) inner-CV score per outer fold (NaN if fold missing)

def assemble_oof(results: list[dict], n_folds: int, fold_of: np.ndarray, keep: np.ndarray, binary: bool) -> OOF:
    """Concatenate fold results (test rows index into ``keep``)."""
    inner = np.full(n_folds, np.nan)
    idx, pred, score, folds = [], [], [], []
    for res in results:
        test = np.asarray(res["test"])
        if len(test) == 0:
            continue
        f = int(fold_of[test[0]])
        inner[f] = res["inner"]
        idx.append(keep[test])
        pred.append(np.asarray(res["pred"]).reshape(len(test), -1))
        folds.append(np.full(len(test), f))
        if binary:
            score.append(np.asarray(res["score"]).ravel())
    if not idx:
        return OOF(np.zeros(0, int), np.zeros((0, 1)), None, np.zeros(0, int), inner)
    order = np.argsort(np.concatenate(idx), kind="stable")
    return OOF(
        np.concatenate(idx)[order],
        np.concatenate(pred)[order],
        np.concatenate(score)[order] if binary else None,
        np.concatenate(folds)[order],
        inner,
    )
