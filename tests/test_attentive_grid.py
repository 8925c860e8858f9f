"""A torch probe's learning-rate x weight-decay grid trained in one pass equals fitting each setting alone.

Truth: the probe's own single fit (``fit``) for each setting; the inner split is the same one
(20% of the training families), so the grid selects exactly as the one-by-one loop does.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probekit.evaluation.fitting import fit_fold
from probekit.probes.attentive import AttentiveRegressorProbe
from probekit.probes.mlp import MLPClassifierProbe
from probekit.probes.registry import get_readout

SETTINGS = [{"lr": lr, "weight_decay": wd} for lr in (1e-3, 1e-2) for wd in (0.0, 0.1)]


@pytest.fixture(autouse=True)
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(96, 5, 6)).astype(np.float32)
    y = X[:, :, 0].mean(axis=1) * 3 + 0.1 * rng.normal(size=96)
    return X, y, np.repeat(np.arange(24), 4)


def _same(a, b) -> None:
    assert a.inner_score_ == b.inner_score_ and a.val_loss_ == b.val_loss_
    assert sorted(a.state_) == sorted(b.state_)
    for key in a.state_:
        np.testing.assert_array_equal(a.state_[key], b.state_[key], err_msg=key)


def test_attentive_grid_in_one_pass_equals_each_setting_alone():
    X, y, groups = _data()
    base = AttentiveRegressorProbe(width=8, num_heads=2, max_epochs=3, batch_size=32, random_state=4)
    grid = base.fit_grid(X, y, SETTINGS, groups=groups)
    for setting, fitted in zip(SETTINGS, grid):
        alone = AttentiveRegressorProbe(width=8, num_heads=2, max_epochs=3, batch_size=32, random_state=4, **setting).fit(X, y, groups=groups)
        _same(fitted, alone)
        np.testing.assert_array_equal(fitted.predict(X), alone.predict(X))
    assert len({f.inner_score_ for f in grid}) > 1  # the settings do train differently


def test_mlp_classifier_grid_equals_each_setting_alone():
    X, y, groups = _data(1)
    labels = (y > np.median(y)).astype(int)
    flat = X.reshape(len(X), -1)
    grid = MLPClassifierProbe(hidden=8, max_epochs=3, random_state=2).fit_grid(flat, labels, SETTINGS, groups=groups)
    for setting, fitted in zip(SETTINGS, grid):
        _same(fitted, MLPClassifierProbe(hidden=8, max_epochs=3, random_state=2, **setting).fit(flat, labels, groups=groups))


def test_fit_fold_selects_as_the_one_by_one_loop():
    X, y, groups = _data(2)
    fold = groups % 3
    params = {"width": 8, "num_heads": 2, "max_epochs": 3, "batch_size": 32, "lr": [1e-3, 1e-2], "weight_decay": [0.0, 0.1]}
    res = fit_fold(get_readout("attentive"), "continuous", X, y, fold, groups, 0, params, seed=7)
    train, test = fold != 0, fold == 0
    alone = [AttentiveRegressorProbe(width=8, num_heads=2, max_epochs=3, batch_size=32, random_state=7, lr=lr, weight_decay=wd)
             .fit(X[train], y[train], groups=groups[train]) for lr in (1e-3, 1e-2) for wd in (0.0, 0.1)]
    chosen = alone[int(np.argmax([a.inner_score_ for a in alone]))]
    assert res["inner"] == chosen.inner_score_
    np.testing.assert_array_equal(res["pred"][:, 0], chosen.predict(X[test]))


def test_grid_of_other_parameters_is_refused():
    X, y, groups = _data()
    with pytest.raises(ValueError, match="only lr and weight_decay"):
        AttentiveRegressorProbe(width=8, num_heads=2, max_epochs=1).fit_grid(X, y, [{"width": 4}], groups=groups)
