"""Inner-CV fold blocks for probe estimators (grouped when groups are given)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupKFold, KFold


def inner_blocks(n: int, cv: int, groups: np.ndarray | None, random_state: int | None) -> tuple[np.ndarray, int]:
    """Assign each of ``n`` samples to one of at most ``cv`` blocks.

    With ``groups``, whole groups stay in one block (grouped K-fold, shuffled); otherwise a
    shuffled K-fold. Returns the block of each sample and the number of blocks.
    """
    block = np.zeros(n, dtype=int)
    if groups is not None:
        groups = np.asarray(groups)
        k = int(min(cv, len(np.unique(groups))))
        if k < 2:
            raise ValueError(f"inner CV needs at least 2 groups, got {len(np.unique(groups))} (n_samples = {n})")
        splitter = GroupKFold(n_splits=k, shuffle=True, random_state=random_state)
        splits = splitter.split(np.zeros(n), groups=groups)
    else:
        k = int(min(cv, n))
        if k < 2:
            raise ValueError(f"inner CV needs at least 2 samples, got n_samples = {n}")
        splits = KFold(n_splits=k, shuffle=True, random_state=random_state).split(np.zeros(n))
    for b, (_, test) in enumerate(splits):
        block[test] = b
    return block, k
