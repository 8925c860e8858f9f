"""Scores of out-of-fold predictions: metrics pooled and per scenario, fold scores, intervals."""

from __future__ import annotations

import json

import numpy as np

from probekit.metrics import bootstrap_interval, geodesic_deg
from probekit.metrics.regression import negligible_variance
from probekit.metrics.specs import HIGHER_IS_BETTER, METRICS_BY_KIND, get_metric

#: Metrics reported per target kind; the first is the primary one (selection, comparisons).
#: A live view of the metric registry (:mod:`probekit.metrics.specs`).
METRICS = METRICS_BY_KIND

__all__ = ["HIGHER_IS_BETTER", "METRICS", "compute", "metric_inputs", "score_rows"]


def metric_inputs(metric: str, y: np.ndarray, pred: np.ndarray, score: np.ndarray | None, symmetry=None, half=None):
    """Map (metric, predictions) to (metric name for the bootstrap, y_true, y_pred), as the
    metric's ``inputs`` asks: decision scores for ranking metrics, per-sample errors for pose."""
    inputs = get_metric(metric).inputs
    if inputs == "scores":
        return metric, y.ravel(), score
    if inputs == "errors":
        err = geodesic_deg(y, pred, symmetry, half)
        return "mean", np.zeros_like(err), err
    return metric, y, pred


def compute(metric: str, y, pred, score=None, symmetry=None, half=None) -> float:
    """One metric value."""
    name, yt, yp = metric_inputs(metric, y, pred, score, symmetry, half)
    spec = get_metric(name)
    if spec.inputs == "scores":
        return spec.function(yt, yp)
    if len(yt) == 0:
        return float("nan")
    return float(spec.function(yt, yp))


def score_rows(
    kind: str,
    y: np.ndarray,
    pred: np.ndarray,
    score: np.ndarray | None,
    fold: np.ndarray,
    families: np.ndarray,
    scenarios: np.ndarray,
    *,
    n_boot: int,
    seed: int,
    symmetry: np.ndarray | None = None,
    half: np.ndarray | None = None,
    by_scenario: bool = True,
) -> list[dict]:
    """Rows (scenario, metric, score, ci_low, ci_high, fold_scores, n, n_families)."""
    rows = []
    total_var = float(np.asarray(y, dtype=np.float64).reshape(len(y), -1).var(axis=0).sum()) if len(y) else 0.0
    groups = [("all", np.ones(len(y), bool))]
    if by_scenario and len(np.unique(scenarios)) > 1:
        groups += [(str(s), scenarios == s) for s in np.unique(scenarios)]
    for scen, mask in groups:
        if mask.sum() < 2:
            continue
        sub = lambda a: None if a is None else a[mask]  # noqa: E731
        ys, ps, ss, fs, gs = y[mask], pred[mask], sub(score), fold[mask], families[mask]
        sym, hh = sub(symmetry), sub(half)
        flat = scen != "all" and kind == "continuous" and negligible_variance(ys, total_var)
        for metric in METRICS[kind]:
            if flat and metric == "r2":  # the target barely varies in this scenario: R² is meaningless
                rows.append({"scenario": scen, "metric": metric, "score": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
                             "fold_scores": "[]", "n": int(mask.sum()), "n_families": int(len(np.unique(gs)))})
                continue
            value = compute(metric, ys, ps, ss, sym, hh)
            fold_scores = []
            for f in np.unique(fs):
                m = fs == f
                fold_scores.append(compute(metric, ys[m], ps[m], None if ss is None else ss[m], None if sym is None else sym[m], None if hh is None else hh[m]))
            name, bt, bp = metric_inputs(metric, ys, ps, ss, sym, hh)
            low, high = bootstrap_interval(name, bt, bp, gs, n_boot=n_boot, seed=seed)
            rows.append(
                {
                    "scenario": scen,
                    "metric": metric,
                    "score": value,
                    "ci_low": low,
                    "ci_high": high,
                    "fold_scores": json.dumps([None if not np.isfinite(v) else round(float(v), 6) for v in fold_scores]),
                    "n": int(mask.sum()),
                    "n_families": int(len(np.unique(gs))),
                }
            )
    return rows
