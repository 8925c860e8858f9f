"""Metrics against scikit-learn and scipy references on seeded data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from sklearn import metrics as skm

from probekit.metrics import accuracy, auprc, auroc, balanced_accuracy, base_rate, bootstrap_interval, geodesic_deg, mae, paired_bootstrap, r2, rot6d_to_matrix
from probekit.metrics.bootstrap import _decomposable, _ranking_replicates, family_members


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_regression_metrics_match_sklearn(rng):
    y = rng.normal(size=(200, 3))
    p = y + rng.normal(size=(200, 3))
    assert r2(y, p) == pytest.approx(skm.r2_score(y, p))
    assert mae(y, p) == pytest.approx(skm.mean_absolute_error(y, p))
    assert r2(y[:, 0], p[:, 0]) == pytest.approx(skm.r2_score(y[:, 0], p[:, 0]))
    const = np.column_stack([y[:, 0], np.ones(200)])
    pred = np.column_stack([p[:, 0], np.full(200, 2.0)])
    assert r2(const, pred) == pytest.approx(skm.r2_score(const, pred))


def test_classification_metrics_match_sklearn_with_ties(rng):
    y = rng.integers(0, 2, 300)
    score = np.round(y * 0.8 + rng.normal(size=300), 1)  # rounded: many ties
    hard = (score > 0.4).astype(int)
    assert accuracy(y, hard) == pytest.approx(skm.accuracy_score(y, hard))
    assert balanced_accuracy(y, hard) == pytest.approx(skm.balanced_accuracy_score(y, hard))
    assert auroc(y, score) == pytest.approx(skm.roc_auc_score(y, score))
    assert auprc(y, score) == pytest.approx(skm.average_precision_score(y, score))
    assert base_rate(y) == pytest.approx(y.mean())
    assert np.isnan(auroc(np.ones(10), rng.normal(size=10)))


def _r6(mats):
    return np.concatenate([mats[:, :, 0], mats[:, :, 1]], axis=1)


def test_geodesic_matches_scipy_without_symmetry(rng):
    a = Rotation.random(50, random_state=1)
    b = Rotation.random(50, random_state=2)
    expected = np.degrees((a.inv() * b).magnitude())
    got = geodesic_deg(a.as_matrix(), b.as_matrix(), symmetry=3)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_allclose(geodesic_deg(_r6(a.as_matrix()), _r6(b.as_matrix()), symmetry=3), expected, atol=1e-6)
    np.testing.assert_allclose(rot6d_to_matrix(_r6(a.as_matrix())), a.as_matrix(), atol=1e-9)


def test_geodesic_symmetries():
    base = Rotation.random(20, random_state=3)
    spin_z = Rotation.from_euler("z", np.linspace(5, 170, 20)[:, None], degrees=True)
    flip = Rotation.from_euler("x", 180, degrees=True)
    tilt = Rotation.from_euler("x", 30, degrees=True)
    # cylinders: spinning about the body axis and flipping the axis cost nothing; tilting it does
    np.testing.assert_allclose(geodesic_deg(base.as_matrix(), (base * spin_z).as_matrix(), 1), 0, atol=1e-5)
    np.testing.assert_allclose(geodesic_deg(base.as_matrix(), (base * flip).as_matrix(), 1), 0, atol=1e-5)
    np.testing.assert_allclose(geodesic_deg(base.as_matrix(), (base * tilt).as_matrix(), 1), 30, atol=1e-4)
    # cubes: any of the 24 cube rotations is free; a 30 degree turn about z costs 30
    quarter = Rotation.from_euler("zy", [90, 180], degrees=True)
    np.testing.assert_allclose(geodesic_deg(base.as_matrix(), (base * quarter).as_matrix(), 2), 0, atol=1e-5)
    turn = Rotation.from_euler("z", 30, degrees=True)
    np.testing.assert_allclose(geodesic_deg(base.as_matrix(), (base * turn).as_matrix(), 2), 30, atol=1e-4)
    # a 50 degree turn about z: the nearest cube symmetry (90) leaves 40
    np.testing.assert_allclose(geodesic_deg(base.as_matrix(), (base * Rotation.from_euler("z", 50, degrees=True)).as_matrix(), 2), 40, atol=1e-4)
    # a flat box (hx = hy != hz): 90 about z is free, 90 about x is not
    half = np.tile([0.1, 0.1, 0.03], (20, 1))
    q90z = Rotation.from_euler("z", 90, degrees=True)
    q90x = Rotation.from_euler("x", 90, degrees=True)
    np.testing.assert_allclose(geodesic_deg(base.as_matrix(), (base * q90z).as_matrix(), 2, half), 0, atol=1e-5)
    np.testing.assert_allclose(geodesic_deg(base.as_matrix(), (base * q90x).as_matrix(), 2, half), 90, atol=1e-4)
    # a brick (all extents differ): 90 about z costs 90, 180 about z is free
    brick = np.tile([0.1, 0.05, 0.03], (20, 1))
    np.testing.assert_allclose(geodesic_deg(base.as_matrix(), (base * q90z).as_matrix(), 2, brick), 90, atol=1e-4)
    np.testing.assert_allclose(geodesic_deg(base.as_matrix(), (base * Rotation.from_euler("z", 180, degrees=True)).as_matrix(), 2, brick), 0, atol=1e-5)
    # spheres are excluded
    assert np.isnan(geodesic_deg(base.as_matrix(), base.as_matrix(), 0)).all()


def test_vectorised_bootstrap_replicates_equal_resampled_metrics(rng):
    groups = np.repeat(np.arange(40), 6)
    y = rng.normal(size=(240, 2))
    p = y + rng.normal(size=(240, 2))
    b = rng.integers(0, 2, 240)
    s = np.round(b + rng.normal(size=240), 1)
    inverse, members = family_members(groups)
    counts = rng.multinomial(40, np.full(40, 1 / 40), size=5)
    for c in counts:
        idx = np.concatenate([np.repeat(members[f], c[f]) for f in range(40)])
        stats, finish = _decomposable("r2", y, p)
        sums = np.zeros((40, stats.shape[1]))
        np.add.at(sums, inverse, stats)
        assert finish((c @ sums)[None])[0] == pytest.approx(skm.r2_score(y[idx], p[idx]))
        assert _ranking_replicates("auroc", b, s, inverse, c[None])[0] == pytest.approx(skm.roc_auc_score(b[idx], s[idx]))
        assert _ranking_replicates("auprc", b, s, inverse, c[None])[0] == pytest.approx(skm.average_precision_score(b[idx], s[idx]))
        hard = s > 0.5
        stats, finish = _decomposable("balanced_accuracy", b, hard)
        sums = np.zeros((40, stats.shape[1]))
        np.add.at(sums, inverse, stats)
        assert finish((c @ sums)[None])[0] == pytest.approx(skm.balanced_accuracy_score(b[idx], hard[idx]))


def test_bootstrap_interval_covers_and_pairs(rng):
    groups = np.repeat(np.arange(60), 5)
    y = rng.normal(size=300)
    p = y + rng.normal(size=300)
    low, high = bootstrap_interval("r2", y, p, groups, n_boot=500)
    assert low < r2(y, p) < high
    delta, lo, hi = paired_bootstrap("r2", y, p, p, groups, n_boot=200)
    assert delta == 0 and lo == 0 and hi == 0
    delta, lo, hi = paired_bootstrap("r2", y, y + 0.1 * rng.normal(size=300), p, groups, n_boot=500)
    assert lo > 0
