"""The metric registry (probekit.metrics.specs): every registered metric is checked the same way,
and a new metric registered in one place is scored, bootstrapped and named like the built-ins."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import median_absolute_error

from probekit.metrics.specs import METRIC_SPECS, MetricSpec, get_metric, metrics_for, primary_order, register_metric

WITH_DECOMPOSITION = [name for name, spec in METRIC_SPECS.items() if spec.decomposition is not None]


def _data(name: str, n: int = 60):
    rng = np.random.default_rng(0)
    if name in ("r2", "mae", "mean"):
        y = rng.normal(size=(n, 2))
        return y, y + rng.normal(scale=0.5, size=(n, 2))
    y = rng.integers(0, 2, size=n)
    if name == "cross_entropy_bits":
        return y, np.clip(0.5 + 0.3 * (2 * y - 1) + rng.normal(scale=0.2, size=n), 0.01, 0.99)
    return y, np.where(rng.uniform(size=n) < 0.8, y, 1 - y)


@pytest.mark.parametrize("name", WITH_DECOMPOSITION)
def test_a_decomposition_reproduces_its_metric(name):
    """The bootstrap's ratio-of-sums shortcut gives the metric's own value on the whole sample."""
    spec = get_metric(name)
    y, pred = _data(name)
    stats, finish = spec.decomposition(y, pred)
    assert len(stats) == len(y)
    np.testing.assert_allclose(finish(stats.sum(axis=0, keepdims=True))[0], spec.function(y, pred), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(METRIC_SPECS))
def test_every_metric_is_described(name):
    spec = METRIC_SPECS[name]
    assert spec.display and spec.inputs in ("predictions", "scores", "errors")
    assert spec.chance is None or spec.chance == "majority" or np.isfinite(spec.chance)
    assert all(name in metrics_for(kind) for kind in spec.kinds)
    if spec.priority is not None:
        assert name in primary_order()


def test_primary_metrics_are_the_documented_ones():
    assert metrics_for("continuous")[0] == "r2" and metrics_for("binary")[0] == "balanced_accuracy"
    assert metrics_for("rotation") == ("geodesic_deg",)


def test_a_registered_metric_is_scored_bootstrapped_and_named(monkeypatch):
    """Register median absolute error for continuous targets: scoring reports it with a family
    bootstrap interval and the value scikit-learn computes; the report names it."""
    from probekit.evaluation.scoring import METRICS, score_rows
    from probekit.report.diagnosis import METRIC_NAMES

    monkeypatch.setattr("probekit.metrics.specs.METRIC_SPECS", dict(METRIC_SPECS))
    register_metric(MetricSpec("median_ae", lambda y, p: float(median_absolute_error(y, p)), False, None,
                               "median absolute error", unit="target", kinds=("continuous",), rank=9))
    assert METRICS["continuous"] == ("r2", "mae", "median_ae")
    rng = np.random.default_rng(1)
    y = rng.normal(size=(80, 1))
    pred = y + rng.normal(scale=0.3, size=(80, 1))
    families = np.repeat(np.arange(20), 4)
    rows = score_rows("continuous", y, pred, None, families % 5, families, np.zeros(80, int), n_boot=200, seed=0)
    row = next(r for r in rows if r["metric"] == "median_ae" and r["scenario"] == "all")
    assert row["score"] == pytest.approx(median_absolute_error(y, pred))
    assert row["ci_low"] < row["score"] < row["ci_high"]
    assert METRIC_NAMES["median_ae"] == "median absolute error"
