"""Localisation scores of attribution maps and the randomisation sanity check.

Axis order: maps and masks are ``(..., H, W)`` arrays indexed ``[row (y), column (x)]``; for
videos ``(T, H, W)`` with one mask per frame. (Score-CAM's reference ``energyPointGame`` indexes its
first axis with x; probekit always indexes rows with y.)
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr


def energy_pointing_game(attribution: np.ndarray, mask: np.ndarray) -> float:
    """Share of the map's positive mass inside ``mask`` (Score-CAM's energy-based pointing game).

    Parameters
    ----------
    attribution
        ``(..., H, W)`` attribution (only its positive part counts, as Score-CAM's post-ReLU maps).
    mask
        Bool array of the same shape.

    Returns
    -------
    float
        In [0, 1]; NaN when the mask is empty (nothing to point at) or the map has no positive mass.
    """
    attribution, mask = np.asarray(attribution, dtype=np.float64), np.asarray(mask, dtype=bool)
    if attribution.shape != mask.shape:
        raise ValueError(f"map {attribution.shape} and mask {mask.shape} differ in shape")
    positive = np.clip(attribution, 0, None)
    total = positive.sum()
    if not mask.any() or total <= 0:
        return float("nan")
    return float(positive[mask].sum() / total)


def mask_share(mask: np.ndarray) -> float:
    """Chance level of the energy pointing game: the mask's share of the map's area (NaN if empty)."""
    mask = np.asarray(mask, dtype=bool)
    return float(mask.mean()) if mask.any() else float("nan")


def pointing_game(attribution: np.ndarray, mask: np.ndarray, tolerance: float = 0.0) -> float:
    """1.0 if the map's maximum lies in ``mask`` (within ``tolerance`` pixels), else 0.0.

    The point is the first maximum of the flattened map (``np.argmax``, as TorchRay). With a
    tolerance, a hit is any mask pixel of the same frame at distance ``< tolerance`` (TorchRay's
    strict test); with 0, the point itself must be in the mask. NaN when the mask is empty.
    """
    attribution, mask = np.asarray(attribution, dtype=np.float64), np.asarray(mask, dtype=bool)
    if attribution.shape != mask.shape:
        raise ValueError(f"map {attribution.shape} and mask {mask.shape} differ in shape")
    if not mask.any():
        return float("nan")
    point = np.unravel_index(int(np.argmax(attribution)), attribution.shape)
    if tolerance <= 0:
        return float(mask[point])
    lead, (row, col) = point[:-2], point[-2:]
    frame = mask[lead]
    rows, cols = np.nonzero(frame)
    return float(bool(((rows - row) ** 2 + (cols - col) ** 2 < tolerance**2).any()))


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of ``|a|`` and ``|b|`` flattened (the randomisation test's measure)."""
    x, y = np.abs(np.asarray(a, dtype=np.float64)).ravel(), np.abs(np.asarray(b, dtype=np.float64)).ravel()
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)
