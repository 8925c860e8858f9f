"""Linear probes as scikit-learn estimators: ridge (continuous) and logistic (binary).

Both choose their regularisation by an inner K-fold CV on the data given to ``fit`` (grouped
by ``groups`` when passed, so frames of one family never sit on both sides of an inner split).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from probekit.probes._folds import inner_blocks
from probekit.probes.logistic_path import DEFAULT_CS, logistic_path
from probekit.probes.ridge_path import DEFAULT_ALPHAS, BlockStats, fit_ridge, select_alphas


class RidgeProbe(RegressorMixin, BaseEstimator):
    """Ridge regression with one alpha per target chosen by (grouped) inner CV.

    The sweep fits it through the shared-decomposition path of :mod:`probekit.probes.ridge_path`
    (:attr:`nested_path`): one SVD per fold block serves every target and alpha.

    Parameters
    ----------
    alphas
        Alpha grid (features are not rescaled).
    cv
        Number of inner folds.
    fit_intercept
        Centre features and targets.
    random_state
        Seed of the inner fold assignment.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    alpha_ : ndarray of shape (n_targets,)
        Chosen alphas.
    inner_score_ : float
        Mean inner-CV R^2 over targets at the chosen alphas.
    """

    #: The sweep may fit this estimator by its nested-CV path (a capability of the estimator).
    nested_path = True

    def __init__(self, alphas=DEFAULT_ALPHAS, cv: int = 5, fit_intercept: bool = True, random_state: int | None = 0):
        self.alphas = alphas
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y, groups=None):
        """Fit; ``groups`` (n,) keeps each group within one inner fold."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=np.float64)
        Y = y.reshape(len(y), -1)
        block, k = inner_blocks(len(X), self.cv, groups, self.random_state)
        stats = BlockStats.compute(X, Y, block, k)
        cache: dict = {}
        blocks = list(range(k))
        self.alpha_, inner = select_alphas(stats, blocks, np.asarray(self.alphas, float), self.fit_intercept, cache)
        coef, intercept = fit_ridge(stats, blocks, self.alpha_, self.fit_intercept, cache)
        self.inner_score_ = float(np.mean(inner))
        if y.ndim == 1:
            self.coef_, self.intercept_ = coef[:, 0], float(intercept[0])
        else:
            self.coef_, self.intercept_ = coef.T, intercept
        return self

    def predict(self, X):
        """Predict targets for ``X`` (n, n_features)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return X @ self.coef_.T + self.intercept_


class LogisticProbe(ClassifierMixin, BaseEstimator):
    """Standardised L2 logistic regression with C chosen by (grouped) inner CV.

    The sweep fits it through the warm-started regularisation paths of
    :mod:`probekit.probes.logistic_path` (:attr:`nested_path`), each path fitted once and
    scored for every inner fold that shares it.

    Parameters
    ----------
    Cs
        Grid of inverse regularisation strengths (default: the Physion readout grid).
    cv
        Number of inner folds.
    class_weight
        ``"balanced"`` (default: class-balanced) or None.
    random_state
        Seed of the inner fold assignment.

    Attributes
    ----------
    classes_, coef_, intercept_ (in raw feature units), C_, inner_score_ (inner-CV accuracy)
    """

    #: The sweep may fit this estimator by its nested-CV path (a capability of the estimator).
    nested_path = True

    def __init__(self, Cs=DEFAULT_CS, cv: int = 5, class_weight: str | None = "balanced", random_state: int | None = 0):
        self.Cs = Cs
        self.cv = cv
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X, y, groups=None):
        """Fit; ``groups`` (n,) keeps each group within one inner fold."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"LogisticProbe needs at least 2 classes in y, got one class: {self.classes_}")
        Cs = np.asarray(self.Cs, dtype=np.float64)
        block, k = inner_blocks(len(X), self.cv, groups, self.random_state)
        scores, used = np.zeros(len(Cs)), 0
        for held in range(k):
            train, val = block != held, block == held
            if len(np.unique(y[train])) < 2:
                continue
            models, mean, scale = logistic_path(X[train], y[train], Cs, self.class_weight)
            Zval = (X[val] - mean) / scale
            scores += [float((m.predict(Zval) == y[val]).mean()) for m in models]
            used += 1
        best = int(np.argmax(scores))
        self.C_ = float(Cs[best])
        self.inner_score_ = float(scores[best] / max(used, 1))
        models, mean, scale = logistic_path(X, y, Cs[best : best + 1], self.class_weight)
        model = models[0]
        self.coef_ = model.coef_ / scale
        self.intercept_ = model.intercept_ - (model.coef_ * mean / scale).sum(axis=1)
        return self

    def decision_function(self, X):
        """Signed distance to the boundary (n,) for two classes, (n, n_classes) otherwise."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        scores = X @ self.coef_.T + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Class probabilities (n, n_classes)."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = 1.0 / (1.0 + np.exp(-scores))
            return np.column_stack([1 - p, p])
        scores = scores - scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted class labels."""
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]
