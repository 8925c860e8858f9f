"""Conditional gains: what a joint model [baseline + latents] adds over the baseline alone.

Continuous targets: gain in R² (joint minus baseline). Binary targets: reduction in
cross-entropy in bits per sample (baseline minus joint), with balanced accuracy of both beside
(each thresholded at the class-1 share of its training folds). Every gain has a paired family
bootstrap 95% interval (the same resampled families for both models), and gains of two stores
are compared by the difference of their gains, paired by family (stores on different time grids
are each scored on their own samples).
"""

from __future__ import annotations

import numpy as np

from probekit.formats.run import GAIN_COLUMNS  # noqa: F401 - re-exported: the run format is its home
from probekit.metrics import balanced_accuracy, contrast_bootstrap, cross_entropy_bits, r2

#: Gain metric per target kind.
GAIN_METRIC = {"continuous": "r2", "binary": "cross_entropy_bits"}



def gain_terms(kind: str, y: np.ndarray, joint: np.ndarray, base: np.ndarray, groups: np.ndarray) -> list[tuple]:
    """Bootstrap terms of the gain of ``joint`` over ``base`` (:func:`contrast_bootstrap`)."""
    metric = GAIN_METRIC[kind]
    if kind == "binary":
        return [(1.0, metric, y, base, groups), (-1.0, metric, y, joint, groups)]
    return [(1.0, metric, y, joint, groups), (-1.0, metric, y, base, groups)]


def thresholded(prob: np.ndarray, y: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Class predictions: probability above the class-1 share of the training folds of each row."""
    out = np.zeros(len(prob), dtype=bool)
    for f in np.unique(fold):
        train = fold != f
        share = float(np.mean(y[train])) if train.any() else 0.5
        out[fold == f] = prob[fold == f] > share
    return out


def gain_row(kind: str, y: np.ndarray, joint: np.ndarray, base: np.ndarray, fold: np.ndarray, groups: np.ndarray, scenarios: np.ndarray, *, n_boot: int, seed: int) -> dict:
    """Gain, interval and the scores beside it for one (store, target, slot, readout, baseline)."""
    gain, low, high = contrast_bootstrap(gain_terms(kind, y, joint, base, groups), n_boot=n_boot, seed=seed)
    per_scenario = [len(np.unique(groups[scenarios == s])) for s in np.unique(scenarios)]
    row = {
        "metric": GAIN_METRIC[kind], "gain": gain, "ci_low": low, "ci_high": high, "n": int(len(y)),
        "n_families": int(len(np.unique(groups))), "families_per_scenario": int(min(per_scenario)) if per_scenario else 0,
        "joint_balanced_accuracy": np.nan, "baseline_balanced_accuracy": np.nan,
    }
    if kind == "binary":
        yb = y.ravel() > 0.5
        row["joint_score"] = cross_entropy_bits(yb, joint.ravel())
        row["baseline_score"] = cross_entropy_bits(yb, base.ravel())
        row["joint_balanced_accuracy"] = balanced_accuracy(yb, thresholded(joint.ravel(), yb, fold))
        row["baseline_balanced_accuracy"] = balanced_accuracy(yb, thresholded(base.ravel(), yb, fold))
    else:
        row["joint_score"] = r2(y, joint)
        row["baseline_score"] = r2(y, base)
    return row


def negligible_within_scenario(y: np.ndarray, scenarios: np.ndarray, tol: float = 1e-6) -> bool:
    """Whether the target barely varies inside any scenario (pooled within-scenario variance
    below ``tol`` of the total): it is then fixed by the scenario and no gain means anything."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    total = y.var(axis=0).sum()
    if total <= 0:
        return True
    within = sum(((y[scenarios == s] - y[scenarios == s].mean(axis=0)) ** 2).sum() for s in np.unique(scenarios)) / len(y)
    return bool(within <= tol * total)
