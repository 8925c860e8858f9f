"""Outer folds by family: a clip, its twins and all windows of one source share a fold."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupKFold

from probekit.errors import BadOptionError


def family_folds(families: np.ndarray, n_folds: int, seed: int = 0) -> np.ndarray:
    """Fold index of each clip.

    Parameters
    ----------
    families
        (N,) family id of each clip.
    n_folds
        Number of folds.
    seed
        Shuffling seed (the same seed gives the same folds for every store, layer and target).

    Raises
    ------
    BadOptionError
        Fewer families than folds.
    """
    families = np.asarray(families)
    n_families = len(np.unique(families))
    if n_folds < 2:
        raise BadOptionError(f"--folds {n_folds}: need at least 2 folds")
    if n_families < n_folds:
        raise BadOptionError(
            f"--folds {n_folds}: the stores hold only {n_families} clip families; use --folds {max(2, n_families)} or fewer, or give more clips"
        )
    fold = np.zeros(len(families), dtype=int)
    splitter = GroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for f, (_, test) in enumerate(splitter.split(np.zeros(len(families)), groups=families)):
        fold[test] = f
    return fold
