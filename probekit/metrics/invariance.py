"""Invariance and equivariance measured on counterfactual twins.

A counterfactual twin is its family's original clip re-simulated with one factor changed
(:mod:`probekit.worlds.counterfactuals`): a nuisance factor (colour, texture, light, camera)
or a physics factor (mass, velocity, gravity). For one representation (one layer, one pooling):

- the **normalised twin distance** of a pair is
  ``(1/T') sum_t ||z_t - z'_t||^2 / (2 tr Sigma)`` over the T' steps at or after the step where
  the two trajectories diverge, where ``Sigma`` is the covariance of ``z_t`` over the original
  clips (all their steps), so that two unrelated draws score about 1;
- ``d(f)`` is its mean over the pairs of factor ``f``, and ``S(p, n) = d(p) / d(n)`` the
  sensitivity to a physics factor relative to a nuisance factor;
- the evidence against pixels is ``S_layer(p, n) / S_pixels(p, n)``: below 1 the layer is more
  invariant to physics (relative to nuisance) than the raw pixels are (over-invariance when its
  interval is below 1 too);
- **equivariance** is the grouped-CV R^2 of a ridge from the time-mean latent difference
  ``mean_t (z'_t - z_t)`` to the factor's change ``log(new / old)``.

Intervals resample families (:func:`family_counts`); every quantity of one bootstrap replicate
uses the same draw, so ratios between representations of the same clips are paired.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from probekit.errors import BadOptionError

#: Labels compared to find where two twins' trajectories part (world-frame, per object).
TRAJECTORY_LABELS = ("position_world", "velocity_world")


@dataclass
class TwinPairs:
    """Original/counterfactual pairs of a store, one entry per counterfactual clip.

    Attributes
    ----------
    original, twin
        (P,) row of the original and of its counterfactual in the store.
    factor
        (P,) changed factor (``color``, ``mass``, ...).
    family
        (P,) family id.
    change
        (P,) ``log`` of the factor's scale for physics factors (``detail["factor"]``), NaN
        where the twin records none (nuisance factors).
    """

    original: np.ndarray
    twin: np.ndarray
    factor: np.ndarray
    family: np.ndarray
    change: np.ndarray

    def __len__(self) -> int:
        return len(self.twin)

    def select(self, keep: np.ndarray) -> "TwinPairs":
        """The pairs where ``keep`` is true."""
        return TwinPairs(self.original[keep], self.twin[keep], self.factor[keep], self.family[keep], self.change[keep])


def twin_pairs(clips: pd.DataFrame) -> TwinPairs:
    """Pair every counterfactual clip with its family's original.

    Parameters
    ----------
    clips
        One row per store clip with ``family_id``, ``kind`` (``original``/``counterfactual``),
        ``counterfactual_factor`` and, optionally, ``detail`` (JSON with ``factor``).

    Raises
    ------
    BadOptionError
        A column is missing (the store was not extracted from a world file with twins).
    """
    for column in ("family_id", "kind", "counterfactual_factor"):
        if column not in clips:
            raise BadOptionError(f"twin_pairs: the clips lack a {column!r} column (no counterfactual twins recorded)")
    kinds = clips["kind"].astype(str).to_numpy()
    families = clips["family_id"].astype(str).to_numpy()
    originals = {family: row for row, (family, kind) in enumerate(zip(families, kinds)) if kind == "original"}
    rows = [row for row, kind in enumerate(kinds) if kind == "counterfactual" and families[row] in originals]
    details = clips["detail"].astype(str).to_numpy() if "detail" in clips else np.array(["{}"] * len(clips))
    change = []
    for row in rows:
        try:
            scale = json.loads(details[row] or "{}").get("factor")
        except json.JSONDecodeError:
            scale = None
        change.append(float(np.log(scale)) if isinstance(scale, (int, float)) and scale > 0 else np.nan)
    rows_arr = np.asarray(rows, dtype=np.int64)
    return TwinPairs(
        original=np.asarray([originals[families[r]] for r in rows], dtype=np.int64),
        twin=rows_arr,
        factor=clips["counterfactual_factor"].astype(str).to_numpy()[rows_arr] if rows else np.array([], dtype=str),
        family=families[rows_arr] if rows else np.array([], dtype=str),
        change=np.asarray(change, dtype=np.float64),
    )


def divergence_steps(trajectories: list[np.ndarray], pairs: TwinPairs, *, atol: float = 1e-5) -> np.ndarray:
    """First step at which each pair's trajectories differ.

    Parameters
    ----------
    trajectories
        Arrays (N, T', ...) aligned to the store's steps (e.g. ``labels/position_world``);
        NaN on both sides counts as equal.
    pairs
        The pairs.
    atol
        Absolute tolerance of "equal".

    Returns
    -------
    np.ndarray
        (P,) first differing step; T' when the pair never diverges.
    """
    if not trajectories:
        raise BadOptionError("divergence_steps: give at least one trajectory array")
    n_steps = trajectories[0].shape[1]
    differs = np.zeros((len(pairs), n_steps), dtype=bool)
    for values in trajectories:
        a = np.asarray(values[pairs.original], dtype=np.float64).reshape(len(pairs), n_steps, -1)
        b = np.asarray(values[pairs.twin], dtype=np.float64).reshape(len(pairs), n_steps, -1)
        both_nan = np.isnan(a) & np.isnan(b)
        differs |= ((np.abs(a - b) > atol) & ~both_nan | (np.isnan(a) ^ np.isnan(b))).any(axis=-1)
    first = np.where(differs.any(axis=1), differs.argmax(axis=1), n_steps)
    return first.astype(np.int64)


def total_variance(latents: np.ndarray) -> float:
    """tr Sigma of (..., D) latents over all finite rows (NaN rows are left out)."""
    flat = np.asarray(latents, dtype=np.float64).reshape(-1, latents.shape[-1])
    flat = flat[np.isfinite(flat).all(axis=1)]
    if len(flat) < 2:
        return float("nan")
    return float(flat.var(axis=0, ddof=1).sum())


def twin_distances(latents: np.ndarray, pairs: TwinPairs, start: np.ndarray, reference_rows: np.ndarray) -> np.ndarray:
    """Normalised squared distance of each pair over the steps from its divergence on.

    Parameters
    ----------
    latents
        (N, T', D) latents per step (token mean or an object's mask-pooled latent; NaN steps
        are left out).
    pairs
        The pairs.
    start
        (P,) first step that counts (see :func:`divergence_steps`).
    reference_rows
        Rows whose steps estimate ``Sigma`` (the original clips).

    Returns
    -------
    np.ndarray
        (P,) distances; NaN for a pair with no counted step.
    """
    latents = np.asarray(latents, dtype=np.float64)
    scale = 2.0 * total_variance(latents[reference_rows])
    if not np.isfinite(scale) or scale <= 0:
        return np.full(len(pairs), np.nan)
    sq = ((latents[pairs.original] - latents[pairs.twin]) ** 2).sum(axis=-1)  # (P, T'); NaN where a side is
    steps = np.arange(latents.shape[1])[None, :]
    counted = (steps >= np.asarray(start)[:, None]) & np.isfinite(sq)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counted, sq, 0.0).sum(axis=1) / counted.sum(axis=1)
    return np.where(counted.any(axis=1), mean / scale, np.nan)


def family_counts(families: np.ndarray, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Family index of each pair and (n_boot, F) draw counts of a family bootstrap."""
    names, inverse = np.unique(np.asarray(families), return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), size=(n_boot, len(names)))
    counts = np.zeros((n_boot, len(names)))
    np.add.at(counts, (np.repeat(np.arange(n_boot), len(names)), draws.ravel()), 1.0)
    return inverse, counts


def weighted_means(values: np.ndarray, keep: np.ndarray, inverse: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(n_boot,) mean of ``values[keep]`` in each bootstrap replicate (NaN when no pair drawn)."""
    keep = np.asarray(keep, dtype=bool) & np.isfinite(values)
    weights = counts[:, inverse[keep]]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weights @ values[keep]) / weights.sum(axis=1)


def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of finite replicates (NaN when fewer than 10 are finite)."""
    finite = replicates[np.isfinite(replicates)]
    if len(finite) < 10:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    return float(np.percentile(finite, tail)), float(np.percentile(finite, 100 - tail))


def equivariance_r2(
    differences: np.ndarray, change: np.ndarray, groups: np.ndarray, *, folds: int = 5, seed: int = 0, n_boot: int = 1000
) -> tuple[float, float, float]:
    """Grouped-CV R^2 of a ridge from latent differences to the factor's log change.

    Parameters
    ----------
    differences
        (P, D) time-mean latent difference of each pair (twin minus original).
    change
        (P,) ``log(new / old)`` of the changed factor.
    groups
        (P,) family of each pair (outer folds and bootstrap keep families whole).
    folds, seed, n_boot
        Outer folds (``GroupKFold``), bootstrap seed and replicates.

    Returns
    -------
    (r2, ci_low, ci_high)
        R^2 of the pooled out-of-fold predictions and its family-bootstrap interval; the ridge
        penalty is chosen inside each training fold (``RidgeCV``'s efficient leave-one-out).
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from probekit.metrics.bootstrap import bootstrap_interval

    x = np.asarray(differences, dtype=np.float64)
    y = np.asarray(change, dtype=np.float64)
    n_groups = len(np.unique(groups))
    if n_groups < 4:
        raise BadOptionError(f"equivariance_r2: needs pairs from at least 4 families, got {n_groups}")
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 6, 17)))
    pred = cross_val_predict(model, x, y, groups=groups, cv=GroupKFold(n_splits=min(folds, n_groups)))
    low, high = bootstrap_interval("r2", y, pred, groups, n_boot=n_boot, seed=seed)
    return float(r2_score(y, pred)), low, high


__all__ = [
    "TRAJECTORY_LABELS",
    "TwinPairs",
    "divergence_steps",
    "equivariance_r2",
    "family_counts",
    "percentile_interval",
    "total_variance",
    "twin_distances",
    "twin_pairs",
    "weighted_means",
]
