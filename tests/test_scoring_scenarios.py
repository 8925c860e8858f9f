"""Per-scenario scores of a target that is (almost) constant inside one scenario are n/a."""

from __future__ import annotations

import numpy as np

from probekit.evaluation.scoring import score_rows


def test_near_constant_scenario_has_no_r2():
    rng = np.random.default_rng(0)
    n = 200
    scen = np.array(["flat"] * 100 + ["moving"] * 100)
    y = np.concatenate([9.81 + 1e-9 * rng.normal(size=100), rng.normal(size=100)])[:, None]
    pred = y + 0.1 * rng.normal(size=(n, 1))
    rows = score_rows("continuous", y, pred, None, np.arange(n) % 5, np.arange(n) // 2, scen, n_boot=50, seed=0)
    r2 = {r["scenario"]: r["score"] for r in rows if r["metric"] == "r2"}
    assert np.isnan(r2["flat"])  # would be about -1e16 from the ratio of a prediction error to a ~1e-18 variance
    assert 0.9 < r2["moving"] <= 1.0 and 0.9 < r2["all"] <= 1.0
    mae = {r["scenario"]: r["score"] for r in rows if r["metric"] == "mae"}
    assert np.isfinite(mae["flat"])
