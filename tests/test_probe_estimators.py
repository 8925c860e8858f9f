"""The estimator contract over every registered readout, and the fast paths against sklearn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from probekit.probes import READOUTS, AttentiveRegressorProbe, RidgeProbe
from probekit.probes.logistic_path import logistic_path, nested_logistic
from probekit.probes.ridge_path import BlockStats, nested_ridge, select_alphas

# The torch probes train a few epochs in these checks: float32 batching changes predictions at
# 1e-7 and a 2-epoch fit does not reach sklearn's toy-data training-score thresholds.
_TORCH_EXPECTED = {
    "check_methods_subset_invariance": "float32 forward passes differ at 1e-7 between batch sizes",
    "check_methods_sample_order_invariance": "float32 forward passes differ at 1e-7 between batch orders",
    "check_regressors_train": "a 2-epoch fit for speed; convergence is tested on planted signals",
    "check_classifiers_train": "a 2-epoch fit for speed; convergence is tested on planted signals",
    "check_classifier_data_not_an_array": "float32 forward passes differ at 1e-7 between input containers",
    "check_regressor_data_not_an_array": "float32 forward passes differ at 1e-7 between input containers",
}


def _instances():
    seen = set()
    for readout in READOUTS.values():
        for factory in (readout.regressor, readout.classifier):
            if factory in seen:
                continue
            seen.add(factory)
            yield factory(**readout.small_params)


def _expected(estimator):
    return _TORCH_EXPECTED if hasattr(estimator, "max_epochs") else {}


@pytest.fixture
def _one_thread():
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@parametrize_with_checks(list(_instances()), expected_failed_checks=_expected)
def test_estimator_contract(estimator, check, _one_thread):
    check(estimator)


def test_registry_covers_the_four_readouts():
    assert {"linear", "object", "mlp", "attentive"} <= set(READOUTS)


def test_nested_ridge_matches_sklearn_ridge_and_brute_force_cv():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 12))
    Y = X @ rng.normal(size=(12, 3)) + rng.normal(size=(400, 3)) * np.array([0.5, 3.0, 10.0])
    fold = rng.integers(0, 5, 400)
    alphas = np.logspace(-2, 4, 7)
    results = nested_ridge(X, Y, fold, 5, alphas)
    for o, res in enumerate(results):
        train = fold != o
        # the chosen alpha per target minimises the pooled held-out error over the other folds
        for j in range(3):
            sse = []
            for a in alphas:
                err = 0.0
                for held in set(range(5)) - {o}:
                    fit = train & (fold != held)
                    pred = Ridge(alpha=a).fit(X[fit], Y[fit, j]).predict(X[fold == held])
                    err += ((pred - Y[fold == held, j]) ** 2).sum()
                sse.append(err)
            assert res["alpha"][j] == alphas[int(np.argmin(sse))]
            model = Ridge(alpha=res["alpha"][j]).fit(X[train], Y[train, j])
            np.testing.assert_allclose(res["coef"][:, j], model.coef_, atol=1e-8)
            np.testing.assert_allclose(res["pred"][:, j], model.predict(X[fold == o]), atol=1e-8)
        if o == 1:
            break


def test_ridge_probe_groups_keep_families_together():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 5))
    y = X[:, 0] + 0.1 * rng.normal(size=120)
    groups = np.repeat(np.arange(30), 4)
    probe = RidgeProbe(cv=5).fit(X, y, groups=groups)
    assert probe.inner_score_ > 0.9
    np.testing.assert_allclose(probe.coef_, Ridge(alpha=probe.alpha_[0]).fit(X, y).coef_, atol=1e-8)
    assert clone(probe).get_params() == probe.get_params()


def test_logistic_path_matches_sklearn_at_each_c():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 6)) * np.array([1, 2, 3, 4, 5, 6])
    y = (X[:, 0] + X[:, 1] + rng.normal(size=300) > 0).astype(int)
    Cs = np.array([0.01, 0.1, 1.0])
    models, mean, scale = logistic_path(X, y, Cs, class_weight="balanced", tol=1e-8)
    Z = StandardScaler().fit_transform(X)
    for C, model in zip(Cs, models):
        ref = LogisticRegression(C=C, class_weight="balanced", tol=1e-10, max_iter=10000).fit(Z, y)
        np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-4, atol=1e-6)
    res = nested_logistic(X, y, rng.integers(0, 5, 300), 5)
    assert all(r["C"] in (1e-6, 1e-5, 0.01, 0.1, 1.0, 5.0, 10.0, 20.0) for r in res)


@pytest.mark.parametrize("n, d", [(600, 150), (1200, 300)])
@pytest.mark.parametrize("class_weight", ["balanced", None])
def test_logistic_path_reaches_sklearn_lbfgs_optimum(n, d, class_weight):
    """Planted, unbalanced binary problems with d > 100 (full and randomised preconditioners)."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) / np.sqrt(d) + rng.normal(size=d)
    score = X[:, :5].sum(axis=1) + rng.normal(size=n)
    y = (score > np.quantile(score, 0.7)).astype(int)  # 30% positives: class weights matter
    Cs = np.array([0.01, 1e-5, 0.1, 1.0, 20.0])
    models, mean, scale = logistic_path(X, y, Cs, class_weight=class_weight, tol=1e-10)
    Z = (X - mean) / scale
    for C, model in zip(Cs, models):
        ref = LogisticRegression(C=C, class_weight=class_weight, tol=1e-12, max_iter=100000).fit(Z, y)
        size = np.abs(ref.coef_).max()
        np.testing.assert_allclose(model.coef_, ref.coef_, rtol=0, atol=1e-5 * size)
        np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=0, atol=1e-5 * max(size, 1.0))
        decision = ref.decision_function(Z)
        np.testing.assert_allclose(model.decision_function(Z), decision, rtol=0, atol=1e-5 * np.abs(decision).max())
        np.testing.assert_array_equal(model.predict(Z), ref.predict(Z))


def test_attentive_probe_finds_a_signal_at_an_unknown_token(_one_thread):
    """The pooled mean hides a signal that sits at one random token of each sample."""
    import torch

    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    n, tokens, dim = 500, 6, 6
    X = rng.normal(size=(n, tokens, dim)).astype(np.float32)
    y = rng.normal(size=n)
    where = rng.integers(0, tokens, n)
    X[np.arange(n), where, 0] = 4.0  # a marker channel says which token carries the value
    X[np.arange(n), where, 1] = y * 2
    probe = AttentiveRegressorProbe(width=16, num_heads=2, max_epochs=40, lr=5e-3, batch_size=64).fit(X[:400], y[:400])
    pred = probe.predict(X[400:])
    r2 = 1 - ((pred - y[400:]) ** 2).sum() / ((y[400:] - y[400:].mean()) ** 2).sum()
    assert r2 > 0.5
    linear = RidgeProbe().fit(X[:400].mean(axis=1), y[:400])
    assert linear.score(X[400:].mean(axis=1), y[400:]) < r2 - 0.2
