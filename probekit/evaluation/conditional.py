"""Conditional probing: what a store's latents add beyond a baseline made from the labels.

The baseline is cross-fitted: for outer fold ``o`` every training row gets a prediction from a
baseline fitted without its own block (and without ``o``), and the held-out rows get the
prediction of the baseline fitted on all training folds. The joint model [baseline + latents]
takes the baseline's prediction as an unpenalised offset (continuous targets: the readout is
fitted to the residual; binary targets: an L2 logistic regression with the baseline's logit as
offset), so the latents are credited only with what the baseline does not already explain.

The nuisance baseline is the best, by inner cross-validation in each outer fold, of an additive
ridge, a scenario x frame ridge and histogram gradient boosting on scenario, frame index, object
count and object size; the geometry baseline (object-token readouts) adds the slot's mask
geometry on the token grid to the two ridge candidates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from probekit.evaluation.controls import geometry_features, nuisance_features
from probekit.evaluation.targets import LabelSource, TargetData

#: Candidate nuisance baselines, in the order they are tried.
BASELINE_MODELS = ("additive_ridge", "scenario_x_frame_ridge", "gradient_boosting")
_EPS = 1e-6


@dataclass
class CrossFit:
    """Cross-fitted baseline predictions of one task (rows index the task's samples).

    Attributes
    ----------
    name
        ``"nuisance"`` or ``"geometry"``.
    outer
        (n, m) prediction of each sample by the baseline fitted on the other outer folds
        (binary targets: the probability of class 1, m = 1).
    inner
        (K, n, m): for outer fold ``o``, training rows hold predictions cross-fitted inside the
        training folds (fitted without the row's own fold and without ``o``); held-out rows hold
        ``outer``.
    chosen
        The candidate chosen by inner CV in each outer fold.
    """

    name: str
    outer: np.ndarray
    inner: np.ndarray
    chosen: list[str]


def baseline_designs(labels: LabelSource, scenarios: np.ndarray, data: TargetData, with_geometry: bool) -> dict[str, np.ndarray] | None:
    """Feature matrices of the candidate baselines for the samples of ``data``.

    Returns None when ``with_geometry`` is asked for a task without mask geometry.
    """
    additive = nuisance_features(labels, scenarios, data)  # one-hot scenario, frame, count, size
    n_scen = len(np.unique(scenarios))
    onehot, frame, rest = additive[:, :n_scen], additive[:, n_scen], additive[:, n_scen + 1 :]
    frames, frame_code = np.unique(frame, return_inverse=True)
    cells = (onehot[:, :, None] * np.eye(len(frames))[frame_code][:, None, :]).reshape(len(additive), -1)
    interaction = np.hstack([cells, rest])
    raw = np.column_stack([onehot.argmax(axis=1), frame, rest])
    if with_geometry:
        geometry = geometry_features(labels, data)
        if geometry is None:
            return None
        return {"additive_ridge": np.hstack([additive, geometry]), "scenario_x_frame_ridge": np.hstack([interaction, geometry])}
    return {"additive_ridge": additive, "scenario_x_frame_ridge": interaction, "gradient_boosting": raw}


def _model(name: str, binary: bool, n_outputs: int, seed: int) -> Any:
    if name == "gradient_boosting":
        kwargs = {"max_iter": 40, "max_leaf_nodes": 8, "learning_rate": 0.1, "early_stopping": False, "categorical_features": [0], "random_state": seed}
        if binary:
            return HistGradientBoostingClassifier(**kwargs)
        reg = HistGradientBoostingRegressor(**kwargs)
        return reg if n_outputs == 1 else MultiOutputRegressor(reg)
    if binary:
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500))
    return make_pipeline(StandardScaler(), Ridge(alpha=1.0))


def _fit_predict(name: str, X: np.ndarray, y: np.ndarray, binary: bool, train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    """Fit candidate ``name`` on ``train`` rows and predict ``test`` rows ((t, m); binary: P(y=1))."""
    m = y.shape[1]
    if binary:
        yt = y[train, 0].astype(int)
        if len(np.unique(yt)) < 2:
            return np.full((len(test), 1), float(yt.mean()) if len(yt) else 0.5)
        model = _model(name, True, 1, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X[train], yt)
        return model.predict_proba(X[test])[:, 1:2]
    model = _model(name, False, m, seed)
    target = y[train] if m > 1 else y[train, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X[train], target)
    return np.asarray(model.predict(X[test]), dtype=np.float64).reshape(len(test), m)


def _loss(y: np.ndarray, pred: np.ndarray, binary: bool) -> float:
    """Selection loss of a baseline: cross-entropy (binary) or 1 - mean R²."""
    if binary:
        p = np.clip(pred[:, 0], _EPS, 1 - _EPS)
        return float(-np.mean(np.where(y[:, 0] > 0.5, np.log(p), np.log(1 - p))))
    total = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    resid = ((y - pred) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1 - resid / total, 0.0)
    return float(1 - r2.mean())


def cross_fit_baseline(name: str, designs: dict[str, np.ndarray], y: np.ndarray, binary: bool, fold: np.ndarray, n_folds: int, seed: int = 0) -> CrossFit:
    """Cross-fit the candidate baselines and choose one per outer fold by inner CV.

    Parameters
    ----------
    name
        Name of the baseline (``nuisance`` or ``geometry``).
    designs
        Feature matrix per candidate (:func:`baseline_designs`).
    y
        (n, m) target values (binary: 0/1, m = 1).
    binary
        Whether the target is binary.
    fold
        (n,) outer fold of each sample (grouped by family).
    n_folds
        Number of outer folds.
    seed
        Seed of the gradient-boosting candidate.
    """
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    n, m = y.shape
    blocks = [np.flatnonzero(fold == b) for b in range(n_folds)]
    outer = np.zeros((n, m))
    inner = np.zeros((n_folds, n, m))
    chosen: list[str] = []
    pair_pred: dict[str, dict[tuple[int, int], np.ndarray]] = {c: {} for c in designs}
    for cand, X in designs.items():
        for o in range(n_folds):
            for i in range(o + 1, n_folds):
                train = np.flatnonzero((fold != o) & (fold != i))
                test = np.concatenate([blocks[o], blocks[i]])
                if len(test) == 0:
                    continue
                pred = _fit_predict(cand, X, y, binary, train, test, seed) if len(train) else np.zeros((len(test), m))
                pair_pred[cand][(o, i)] = pred  # rows of blocks o then i
    for o in range(n_folds):
        losses = {}
        filled = {}
        for cand in designs:
            guess = np.zeros((n, m))
            for i in range(n_folds):
                if i == o:
                    continue
                a, b = min(o, i), max(o, i)
                pred = pair_pred[cand].get((a, b))
                if pred is None:
                    continue
                first = blocks[a]
                part = pred[len(first):] if i == b else pred[: len(first)]
                guess[blocks[i]] = part
            train = np.flatnonzero(fold != o)
            losses[cand] = _loss(y[train], guess[train], binary) if len(train) else np.inf
            filled[cand] = guess
        best = min(losses, key=losses.get)
        chosen.append(best)
        test = blocks[o]
        train = np.flatnonzero(fold != o)
        if len(test):
            outer[test] = _fit_predict(best, designs[best], y, binary, train, test, seed)
        inner[o] = filled[best]
    for o in range(n_folds):
        inner[o][blocks[o]] = outer[blocks[o]]
    return CrossFit(name, outer, inner, chosen)


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) with p clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def fit_offset_logistic(X: np.ndarray, y: np.ndarray, offset: np.ndarray, C: float,
                        start: tuple[np.ndarray, float] | None = None) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """L2 logistic regression with a fixed, unpenalised offset in the linear predictor.

    Minimises ``sum logloss(y, sigmoid(offset + Z w + b)) + ||w||² / (2 C)`` on standardised
    features ``Z`` with L-BFGS (scipy), the same objective as scikit-learn's
    ``LogisticRegression(C=C)`` when the offset is 0. ``start`` = (coef, intercept) of a fit at a
    nearby C on the same rows starts the search there (a warm start along a C path; the
    objective is strictly convex, so the optimum is the same).

    Returns
    -------
    coef, intercept, mean, scale
        Weights on standardised features, intercept, and the standardisation.
    """
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    Z = (X - mean) / scale
    y = np.asarray(y, dtype=np.float64).ravel()
    d = Z.shape[1]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        eta = offset + Z @ w + b
        # log(1 + exp(eta)) - y * eta, stably
        loss = np.logaddexp(0.0, eta) - y * eta
        p = 1.0 / (1.0 + np.exp(-eta))
        r = p - y
        grad = np.concatenate([Z.T @ r + w / C, [r.sum()]])
        return float(loss.sum() + 0.5 * (w @ w) / C), grad

    theta0 = np.zeros(d + 1) if start is None else np.concatenate([start[0], [start[1]]])
    res = minimize(objective, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x[:d], float(res.x[d]), mean, scale


def predict_offset_logistic(X: np.ndarray, offset: np.ndarray, coef: np.ndarray, intercept: float, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """P(y = 1) of :func:`fit_offset_logistic`'s model."""
    eta = offset + ((np.asarray(X, dtype=np.float64) - mean) / scale) @ coef + intercept
    return 1.0 / (1.0 + np.exp(-eta))


def joint_ridge(X: np.ndarray, y: np.ndarray, base: CrossFit, keep: np.ndarray, fold: np.ndarray, n_folds: int, params: dict[str, Any]) -> list[dict]:
    """Joint model of a ridge readout: nested ridge on the residual of the cross-fitted baseline.

    Returns fold results like :func:`probekit.evaluation.fitting.fit_ridge_group` (``test`` rows
    index ``keep``; ``pred`` = baseline offset + ridge on the latents; ``inner`` = inner-CV R² of
    the residual, which orders layers as the joint model's inner R² does).
    """
    from probekit.evaluation.fitting import fit_ridge_group

    y = np.asarray(y, dtype=np.float64).reshape(len(keep), -1)
    residuals = [y - base.inner[o][keep] for o in range(n_folds)]
    per_fold = fit_ridge_group(X, residuals, fold, n_folds, params)
    out = []
    for o in range(n_folds):
        for res in per_fold[o]:
            test = np.asarray(res["test"])
            if len(test) and int(fold[test[0]]) == o:
                out.append({"test": test, "pred": base.outer[keep][test] + res["pred"], "inner": res["inner"]})
    return out


def joint_logistic(X: np.ndarray, y: np.ndarray, base: CrossFit, keep: np.ndarray, fold: np.ndarray, n_folds: int, Cs: np.ndarray) -> list[dict]:
    """Joint model of a logistic readout: the baseline's logit as offset, C chosen by inner CV.

    In each outer fold, C is chosen among ``Cs`` by the cross-entropy on the other training
    folds (each fitted without its own fold, offsets cross-fitted as for the final fit). ``pred``
    is the joint model's P(y = 1); ``inner`` is minus the chosen inner cross-entropy (nats), so
    the layer with the highest ``inner`` has the lowest inner cross-entropy.
    """
    y = np.asarray(y).ravel().astype(float)
    out = []
    for o in range(n_folds):
        train = np.flatnonzero(fold != o)
        test = np.flatnonzero(fold == o)
        if len(test) == 0 or len(np.unique(y[train])) < 2:
            continue
        offset = logit(base.inner[o][keep][:, 0])
        losses = np.zeros(len(Cs))
        for i in range(n_folds):
            if i == o:
                continue
            fit_rows = np.flatnonzero((fold != o) & (fold != i))
            held = np.flatnonzero(fold == i)
            if len(held) == 0 or len(np.unique(y[fit_rows])) < 2:
                continue
            start = None
            for c in np.argsort(Cs):  # ascending C, each fit warm-started from the previous one
                coef, intercept, mean, scale = fit_offset_logistic(X[fit_rows], y[fit_rows], offset[fit_rows], float(Cs[c]), start)
                start = (coef, intercept)
                p = np.clip(predict_offset_logistic(X[held], offset[held], coef, intercept, mean, scale), _EPS, 1 - _EPS)
                losses[c] += -np.sum(np.where(y[held] > 0.5, np.log(p), np.log(1 - p)))
        best = int(np.argmin(losses))
        coef, intercept, mean, scale = fit_offset_logistic(X[train], y[train], offset[train], float(Cs[best]))
        prob = predict_offset_logistic(X[test], logit(base.outer[keep][test, 0]), coef, intercept, mean, scale)
        out.append({"test": test, "pred": prob[:, None], "inner": -float(losses[best]) / max(len(train), 1)})
    return out


def joint_estimator(readout, X: np.ndarray, y: np.ndarray, base: CrossFit, keep: np.ndarray, fold: np.ndarray, groups: np.ndarray, n_folds: int,
                    params: dict[str, Any], seed: int, binary: bool = False) -> list[dict]:
    """Joint model of a torch readout: on a continuous target the readout fitted to the residual;
    on a binary target the classifier with the baseline's logit as a fixed offset (cross-fitted
    inside the training folds, the outer prediction on the held-out rows), ``pred`` its P(y = 1)
    and ``inner`` its primary score on the inner split."""
    from probekit.evaluation.fitting import fit_fold

    if binary:
        yb = np.asarray(y).ravel().astype(int)
        test_offset = logit(base.outer[keep][:, 0])
        out = []
        for o in range(n_folds):
            res = fit_fold(readout, "binary", X, yb, fold, groups, o, params, seed, offset=logit(base.inner[o][keep][:, 0]),
                           test_offset=test_offset)
            if res is not None:
                out.append({"test": res["test"], "pred": res["proba"][:, None], "inner": res["inner"]})
        return out
    y = np.asarray(y, dtype=np.float64).reshape(len(keep), -1)
    out = []
    for o in range(n_folds):
        res = fit_fold(readout, "continuous", X, y - base.inner[o][keep], fold, groups, o, params, seed)
        if res is not None:
            out.append({"test": res["test"], "pred": base.outer[keep][res["test"]] + res["pred"], "inner": res["inner"]})
    return out
