"""``probekit extract --encoder planted`` on a real world file: the signals sit where planted."""

from __future__ import annotations

import numpy as np

from _worlds import generated_world
from probekit.store import Store
from probekit.testing import PlantedEncoder


def _r2_of_projection(features: np.ndarray, target: np.ndarray) -> float:
    """R^2 of the least-squares fit of ``target`` from ``features`` (with intercept)."""
    A = np.hstack([features, np.ones((len(features), 1))])
    coef, *_ = np.linalg.lstsq(A, target, rcond=None)
    resid = target - A @ coef
    return float(1 - (resid**2).sum() / ((target - target.mean(0)) ** 2).sum())


def test_extract_with_planted_encoder_puts_signals_where_planted(tmp_path, run_cli):
    world = generated_world(6, 0, 16, 64)  # one clip per scenario: free flight gives acceleration its variance
    out = tmp_path / "planted.h5"
    proc = run_cli("extract", "--data", world, "--encoder", "planted", "--out", out, "--dtype", "float32")
    assert proc.returncode == 0, proc.stderr
    encoder = PlantedEncoder()
    dirs = encoder._dirs
    with Store(out) as store:
        assert store.layers == [0, 1, 2, 3, 4]
        exists = store.labels("exists")
        pos = store.labels("position_camera")
        acc = store.labels("acceleration_world")
        lin = store.features(1, "time")[exists[..., 0]] @ dirs[:3].T  # (n, 3) projections
        assert _r2_of_projection(lin, pos[exists[..., 0]][:, 0]) > 0.9
        noise = store.features(0, "time")[exists[..., 0]] @ dirs[:3].T
        assert _r2_of_projection(noise, pos[exists[..., 0]][:, 0]) < _r2_of_projection(lin, pos[exists[..., 0]][:, 0]) - 0.3
        obj = store.features(3, "object")
        seen = np.isfinite(obj[..., 0]) & exists
        proj = obj[seen] @ dirs[:3].T
        target = acc[seen][:, 2]
        obj0 = store.features(0, "object")[seen] @ dirs[:3].T
        assert _r2_of_projection(proj, target) > 0.4
        assert _r2_of_projection(obj0, target) < _r2_of_projection(proj, target) - 0.3
        # the pooled vector of the object layer holds no acceleration beyond noise
        pooled = np.repeat(store.features(3, "time")[:, :, None], exists.shape[2], axis=2)[seen] @ dirs[:3].T
        assert np.abs(pooled).max() < 1.5
