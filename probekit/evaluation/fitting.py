"""Fitting one readout on one task across the outer folds (with fast paths for linear ones).

Each call returns, per outer fold, the test rows, predictions, decision scores (binary), the
inner-CV score used for model selection and the fitted weights as arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from probekit.probes.logistic_path import DEFAULT_CS, nested_logistic
from probekit.probes.registry import Readout
from probekit.probes.ridge_path import DEFAULT_ALPHAS, nested_ridge


def fit_ridge_group(X: np.ndarray, Ys: list[np.ndarray], fold: np.ndarray, n_folds: int, params: dict[str, Any]) -> list[list[dict]]:
    """Nested ridge for several targets on the same rows, sharing every decomposition.

    Returns, per target, a list of fold results (``test``, ``pred``, ``inner``, ``weights``).
    """
    widths = [y.shape[1] for y in Ys]
    Y = np.hstack(Ys)
    folds = nested_ridge(X, Y, fold, n_folds, np.asarray(params.get("alphas", DEFAULT_ALPHAS), float))
    out: list[list[dict]] = [[] for _ in Ys]
    start = 0
    for t, width in enumerate(widths):
        cols = slice(start, start + width)
        for res in folds:
            out[t].append(
                {
                    "test": res["test"],
                    "pred": res["pred"][:, cols],
                    "inner": float(np.mean(res["inner_score"][cols])),
                    "weights": {"coef": res["coef"][:, cols], "intercept": res["intercept"][cols], "alpha": res["alpha"][cols]},
                }
            )
        start += width
    return out


def fit_logistic(X: np.ndarray, y: np.ndarray, fold: np.ndarray, n_folds: int, params: dict[str, Any]) -> list[dict]:
    """Nested class-balanced logistic regression (C by inner CV)."""
    res = nested_logistic(X, y.ravel().astype(int), fold, n_folds, np.asarray(params.get("Cs", DEFAULT_CS), float))
    return [
        {
            "test": r["test"],
            "pred": r["pred"][:, None].astype(np.float64),
            "score": r["score"],
            "inner": float(r["inner_score"][0]),
            "weights": {"coef": r["coef"], "intercept": np.array([r["intercept"]]), "C": np.array([r["C"]])},
        }
        for r in res
    ]


def fit_estimator(readout: Readout, kind: str, X: np.ndarray, y: np.ndarray, fold: np.ndarray, groups: np.ndarray, n_folds: int, params: dict[str, Any], seed: int) -> list[dict]:
    """Any registered readout, fold by fold, with the sample's family as inner groups (see :func:`fit_fold`)."""
    out = []
    for o in range(n_folds):
        res = fit_fold(readout, kind, X, y, fold, groups, o, params, seed)
        if res is not None:
            out.append(res)
    return out


def fit_fold(readout: Readout, kind: str, X: np.ndarray, y: np.ndarray, fold: np.ndarray, groups: np.ndarray, o: int, params: dict[str, Any], seed: int,
             offset: np.ndarray | None = None, test_offset: np.ndarray | None = None) -> dict | None:
    """Fit ``readout`` on the training folds of outer fold ``o`` and predict its held-out rows.

    Parameters given as lists form a grid (scikit-learn's ``ParameterGrid``): every combination
    is fitted on the training rows and the one with the best inner score (the estimator's
    ``inner_score_``: the primary metric on its inner validation split of 20% of the training
    families, the same split for every combination) is kept. A grid over learning rate and weight
    decay alone is fitted in one pass over the data where the estimator offers ``fit_grid`` (the
    torch probes), with the same fits as one by one. None when the fold is empty or a binary
    target has one class in training.

    ``offset`` and ``test_offset`` (binary targets, estimators whose ``fit`` takes an
    ``offset``): a baseline's logit per sample, fixed and unpenalised, on the training rows
    (cross-fitted inside them) and on the held-out rows; the result then also holds ``proba``,
    the joint model's P(y = 1) on the held-out rows.
    """
    from sklearn.model_selection import ParameterGrid

    factory = readout.classifier if kind == "binary" else readout.regressor
    grid = list(ParameterGrid({k: (v if isinstance(v, list) else [v]) for k, v in params.items()}))
    test = np.flatnonzero(fold == o)
    train = np.flatnonzero(fold != o)
    if len(test) == 0 or len(train) == 0:
        return None
    target = y.ravel().astype(int) if kind == "binary" else y
    if kind == "binary" and len(np.unique(target[train])) < 2:
        return None
    est, best = None, -np.inf
    for candidate in _fitted_grid(factory, grid, X[train], target[train], groups[train], seed + o,
                                  None if offset is None else offset[train]):
        score = float(getattr(candidate, "inner_score_", np.nan))
        if est is None or score > best:
            est, best = candidate, score
    res: dict[str, Any] = {"test": test, "inner": float(getattr(est, "inner_score_", np.nan))}
    if kind == "binary" and offset is not None:
        shift = test_offset[test]
        res["pred"] = est.predict(X[test], offset=shift).astype(np.float64)[:, None]
        res["score"] = est.decision_function(X[test], offset=shift)
        res["proba"] = est.predict_proba(X[test], offset=shift)[:, 1]
    elif kind == "binary":
        res["pred"] = est.predict(X[test]).astype(np.float64)[:, None]
        res["score"] = est.decision_function(X[test])
    else:
        res["pred"] = np.asarray(est.predict(X[test]), dtype=np.float64).reshape(len(test), -1)
    state = getattr(est, "state_", None)
    if state is None:
        state = {name: np.asarray(getattr(est, name)) for name in ("coef_", "intercept_") if hasattr(est, name)}
    res["weights"] = {k.replace(".", "__"): np.asarray(v) for k, v in state.items()}
    return res


def _fitted_grid(factory, grid: list[dict[str, Any]], X: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int,
                 offset: np.ndarray | None = None) -> list:
    """One fitted estimator per combination of ``grid``, in order (batched where the estimator can)."""
    extra = {} if offset is None else {"offset": offset}
    def make(combo: dict[str, Any]):
        estimator = factory(**combo)
        if "random_state" in estimator.get_params():
            estimator.set_params(random_state=seed)
        return estimator

    varying = {key for key in grid[0] if len({repr(combo[key]) for combo in grid}) > 1}
    if len(grid) > 1 and varying <= {"lr", "weight_decay"}:
        first = make(grid[0])
        if hasattr(first, "fit_grid") and not getattr(first, "dropout", 0.0):
            return first.fit_grid(X, y, [{key: combo[key] for key in varying} for combo in grid], groups=groups, **extra)
    fitted = []
    for combo in grid:
        estimator = make(combo)
        estimator.fit(X, y, groups=groups, **extra)
        fitted.append(estimator)
    return fitted
