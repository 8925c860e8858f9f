"""Collapse monitor: effective rank of a set of latent vectors."""

from __future__ import annotations

import numpy as np


def effective_rank(latents: np.ndarray) -> float:
    """Effective rank (Roy & Vetterli, 2007) of a (samples, dims) matrix.

    ``exp(H(p))`` where ``p`` are the singular values of the centred matrix normalised to sum
    to one and ``H`` is the Shannon entropy. Equals k for k equal non-zero singular values and
    tends to 1 when the representation collapses to one direction.
    """
    x = np.asarray(latents, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"effective_rank needs a (samples >= 2, dims) matrix, got shape {x.shape}")
    x = x - x.mean(axis=0, keepdims=True)
    s = np.linalg.svd(x, compute_uv=False)
    total = s.sum()
    if total <= 0:
        return 0.0
    p = s / total
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))
