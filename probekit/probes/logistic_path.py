"""Fast L2 logistic regression with a cross-validated C, for the layer sweep.

The folds are blocks as in :mod:`probekit.probes.ridge_path`: the inner folds of outer fold
``o`` are the other outer blocks, and the inner training set of (o, i) equals that of (i, o), so
each of the K(K-1)/2 regularisation paths is fitted once and scored twice. Each path runs
scikit-learn's ``newton-cholesky`` (few features) or ``lbfgs`` solver over an ascending C grid
with warm starts, on features
standardised with the training set's mean and standard deviation (the Physion readout recipe).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from probekit.metrics.classification import accuracy, balanced_accuracy

#: Default C grid: the Physion readout grid.
DEFAULT_CS = (1e-6, 1e-5, 0.01, 0.1, 1.0, 5.0, 10.0, 20.0)

_SCORERS = {"accuracy": accuracy, "balanced_accuracy": balanced_accuracy}


def _standardiser(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def logistic_path(
    X: np.ndarray,
    y: np.ndarray,
    Cs: np.ndarray,
    class_weight: str | None = "balanced",
    max_iter: int | None = None,
    tol: float = 1e-4,
    solver: str = "auto",
) -> tuple[list[LogisticRegression], np.ndarray, np.ndarray]:
    """Fit standardised logistic regressions over ascending ``Cs`` with warm starts.

    ``solver="auto"`` uses ``newton-cholesky`` up to 100 features (cheap exact Hessians) and
    ``lbfgs`` above (cheap iterations; warm starts cut them by about 3x along the path).

    Returns
    -------
    models, mean, scale
        One fitted model per C (in the order of ``Cs``) and the standardisation used.
    """
    mean, scale = _standardiser(X)
    Z = (X - mean) / scale
    models: list[LogisticRegression | None] = [None] * len(Cs)
    if solver == "auto":
        solver = "newton-cholesky" if Z.shape[1] <= 100 else "lbfgs"
    if max_iter is None:
        max_iter = 100 if solver == "newton-cholesky" else 20000
    model = LogisticRegression(solver=solver, warm_start=True, class_weight=class_weight, max_iter=max_iter, tol=tol)
    for i in np.argsort(Cs):
        model.set_params(C=float(Cs[i]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(Z, y)
        snapshot = LogisticRegression(C=float(Cs[i]), class_weight=class_weight)
        snapshot.coef_, snapshot.intercept_, snapshot.classes_ = model.coef_.copy(), model.intercept_.copy(), model.classes_
        snapshot.n_features_in_ = Z.shape[1]
        models[i] = snapshot
    return models, mean, scale  # type: ignore[return-value]


def nested_logistic(
    X: np.ndarray,
    y: np.ndarray,
    fold: np.ndarray,
    n_folds: int,
    Cs: np.ndarray = DEFAULT_CS,
    class_weight: str | None = "balanced",
    scoring: str = "balanced_accuracy",
) -> list[dict]:
    """Outer K-fold logistic regression with C chosen by inner CV over the other folds.

    Parameters
    ----------
    X, y
        (n, D) features and (n,) labels.
    fold
        (n,) outer fold of each sample.
    n_folds
        Number of folds.
    Cs
        Grid of inverse regularisation strengths.
    class_weight
        ``"balanced"`` or None.
    scoring
        ``"accuracy"`` or ``"balanced_accuracy"``: the inner-CV criterion.

    Returns
    -------
    list of dict
        Per outer fold: ``test``, ``pred`` (labels), ``score`` (decision function), ``C``,
        ``inner_score``, ``coef`` (D,) in raw feature units, ``intercept``.
    """
    scorer = _SCORERS[scoring]
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    Cs = np.asarray(Cs, dtype=np.float64)
    present = [b for b in range(n_folds) if (fold == b).any()]
    paths: dict[frozenset, tuple] = {}

    def path_for(blocks: list[int]) -> tuple:
        key = frozenset(blocks)
        if key not in paths:
            rows = np.isin(fold, blocks)
            paths[key] = logistic_path(X[rows], y[rows], Cs, class_weight)
        return paths[key]

    out = []
    for o in present:
        train_blocks = [b for b in present if b != o]
        inner = np.zeros(len(Cs))
        for held in train_blocks:
            rest = [b for b in train_blocks if b != held]
            rows = np.flatnonzero(fold == held)
            if len(np.unique(y[np.isin(fold, rest)])) < 2:
                continue
            models, mean, scale = path_for(rest)
            Zh = (X[rows] - mean) / scale
            inner += np.array([scorer(y[rows], m.predict(Zh)) for m in models]) / len(train_blocks)
        best = int(np.argmax(inner))
        models, mean, scale = path_for(train_blocks)
        model = models[best]
        test = np.flatnonzero(fold == o)
        Zt = (X[test] - mean) / scale
        coef = model.coef_.ravel() / scale
        intercept = float(model.intercept_[0] - (model.coef_.ravel() * mean / scale).sum())
        out.append(
            {
                "test": test,
                "pred": model.predict(Zt),
                "score": model.decision_function(Zt),
                "C": float(Cs[best]),
                "inner_score": np.array([inner[best]]),
                "coef": coef,
                "intercept": intercept,
            }
        )
    return out
