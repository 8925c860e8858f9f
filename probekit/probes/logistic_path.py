"""Fast L2 logistic regression with a cross-validated C, for the layer sweep.

The folds are blocks as in :mod:`probekit.probes.ridge_path`: the inner folds of outer fold
``o`` are the other outer blocks, and the inner training set of (o, i) equals that of (i, o), so
each of the K(K-1)/2 regularisation paths is fitted once and scored twice. Each path works on
features standardised with the training set's mean and standard deviation (the Physion readout
recipe) and walks an ascending C grid with warm starts.

Up to :data:`NEWTON_MAX_FEATURES` features every path runs scikit-learn's ``newton-cholesky``
(cheap exact Hessians, converged to machine precision). Above, binary paths minimise scikit-learn's ``LogisticRegression`` objective (class weights as sample
weights, penalty ``||w||^2 / (2C)``, unpenalised intercept) with L-BFGS on preconditioned
coordinates: the preconditioner is the Hessian model ``c Z^T Z / S + I / (C S)`` (``c`` the
mean logistic curvature at the warm start, ``S`` the summed sample weights), whitened through the
leading eigenvectors of the standardised Gram matrix (all of them up to
:data:`FULL_EIGEN_MAX_FEATURES` features, the top :data:`PRECONDITIONER_RANK` from a randomised
range finder above, the rest of the spectrum by its mean). It stops on scikit-learn's criterion
(largest absolute gradient of the sample-weight-normalised objective <= ``tol``), so it reaches
the same optimum in a fraction of scikit-learn's iterations. The preconditioner and the bulk of
the iterations use a float32 copy of the features (gradients accurate to about 1e-7); the
stopping test, and any last iterations it asks for, use float64. More than two classes use
scikit-learn's multinomial ``lbfgs`` with warm starts there.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils.class_weight import compute_class_weight

from probekit.metrics.classification import accuracy, balanced_accuracy

#: Default C grid: the Physion readout grid.
DEFAULT_CS = (1e-6, 1e-5, 0.01, 0.1, 1.0, 5.0, 10.0, 20.0)

#: Up to this many features paths run scikit-learn's ``newton-cholesky`` solver.
NEWTON_MAX_FEATURES = 100

#: Up to this many features the preconditioner uses the full eigen-decomposition of the Gram matrix.
FULL_EIGEN_MAX_FEATURES = 256

#: Leading eigenvectors kept by the randomised preconditioner above that size.
PRECONDITIONER_RANK = 64

_SCORERS = {"accuracy": accuracy, "balanced_accuracy": balanced_accuracy}


def _standardiser(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


@dataclass
class _Spectrum:
    """Leading eigenpairs of a Gram matrix ``Z^T Z`` and the mean of the remaining eigenvalues.

    Attributes
    ----------
    vectors
        (d, k) orthonormal eigenvectors.
    values
        (k,) eigenvalues.
    tail
        Mean eigenvalue of the orthogonal complement (unused when ``k == d``).
    """

    vectors: np.ndarray
    values: np.ndarray
    tail: float

    @property
    def complete(self) -> bool:
        """Whether the eigenvectors span the whole feature space."""
        return self.vectors.shape[1] == self.vectors.shape[0]


def _gram_spectrum(Z: np.ndarray, rank: int = PRECONDITIONER_RANK, seed: int = 0) -> _Spectrum:
    """Eigenpairs of ``Z^T Z``: all of them for few features, else the top ``rank`` (randomised).

    The randomised range finder takes one power iteration and ``rank + 8`` probe vectors; its
    seed is fixed, so paths are deterministic. ``Z`` may be float32 (a preconditioner needs no
    more); the eigenpairs are float64.
    """
    d = Z.shape[1]
    if d <= FULL_EIGEN_MAX_FEATURES or rank >= d:
        values, vectors = np.linalg.eigh((Z.T @ Z).astype(np.float64))
        return _Spectrum(vectors, np.clip(values, 0.0, None), 0.0)
    probes = np.random.default_rng(seed).standard_normal((d, min(rank + 8, d))).astype(Z.dtype)
    basis = np.linalg.qr(Z.T @ (Z @ probes))[0]
    basis = np.linalg.qr(Z.T @ (Z @ basis))[0]
    projected = (Z @ basis).astype(np.float64)
    values, rotation = np.linalg.eigh(projected.T @ projected)
    values, vectors = np.clip(values[-rank:], 0.0, None), basis.astype(np.float64) @ rotation[:, -rank:]
    trace = float(np.einsum("ij,ij->", Z, Z, dtype=np.float64))
    return _Spectrum(vectors, values, max(trace - float(values.sum()), 0.0) / (d - rank))


class _Whitening:
    """Map between coefficients ``(w, b)`` and L-BFGS coordinates ``gamma = P^(1/2) (w, b)``.

    ``P`` is the Hessian model ``curvature * Z^T Z / S + I / (C S)`` for ``w`` (through
    ``spectrum``) and ``curvature * n / S`` for the intercept.
    """

    def __init__(self, spectrum: _Spectrum, curvature: float, C: float, n: int, weight_sum: float):
        self.spectrum = spectrum
        ridge = 1.0 / (C * weight_sum)
        self.root = np.sqrt(curvature * spectrum.values / weight_sum + ridge)
        self.tail_root = np.sqrt(curvature * spectrum.tail / weight_sum + ridge)
        self.intercept_root = np.sqrt(curvature * n / weight_sum)

    def _apply(self, a: np.ndarray, power: float) -> np.ndarray:
        """``P^power a`` for the coefficient block, ``power`` in {1/2, -1/2}."""
        V = self.spectrum.vectors
        proj = V.T @ a
        out = V @ (proj * self.root ** (2 * power))
        if not self.spectrum.complete:
            out += (a - V @ proj) * self.tail_root ** (2 * power)
        return out

    def to_gamma(self, w: np.ndarray, b: float) -> np.ndarray:
        """L-BFGS coordinates of coefficients ``w`` and intercept ``b``."""
        return np.append(self._apply(w, 0.5), b * self.intercept_root)

    def to_coef(self, gamma: np.ndarray) -> tuple[np.ndarray, float]:
        """Coefficients and intercept of L-BFGS coordinates ``gamma``."""
        return self._apply(gamma[:-1], -0.5), float(gamma[-1] / self.intercept_root)

    def gradient(self, grad_w: np.ndarray, grad_b: float) -> np.ndarray:
        """Gradient in L-BFGS coordinates from the gradient in ``(w, b)``."""
        return np.append(self._apply(grad_w, -0.5), grad_b / self.intercept_root)


#: Floor of the mean logistic curvature in the Hessian model (all points fitted with certainty).
_MIN_CURVATURE = 1e-6


class _Objective:
    """scikit-learn's binary logistic objective ``sum(sw * loss) / S + ||w||^2 / (2 C S)``.

    Evaluated in the coordinates of a :class:`_Whitening`; remembers the largest absolute
    gradient in ``(w, b)`` at the last point evaluated (scikit-learn's stopping criterion). The
    products with ``Z`` run in ``Z``'s dtype (float32: about 4x faster, gradients accurate to
    about 1e-7), the rest in float64.
    """

    def __init__(self, Z: np.ndarray, sign: np.ndarray, weight: np.ndarray, C: float, whitening: _Whitening):
        self.Z, self.sign, self.weight, self.whitening = Z, sign, weight, whitening
        self.weight_sum = float(weight.sum())
        self.ridge = 1.0 / (C * self.weight_sum)
        self.last_x: np.ndarray | None = None
        self.last_gradient_max = np.inf

    def __call__(self, gamma: np.ndarray) -> tuple[float, np.ndarray]:
        """Objective and its gradient at L-BFGS coordinates ``gamma``."""
        w, b = self.whitening.to_coef(gamma)
        margin = self.sign * ((self.Z @ w.astype(self.Z.dtype, copy=False)).astype(np.float64) + b)
        value = -float(self.weight @ log_expit(margin)) / self.weight_sum + 0.5 * self.ridge * float(w @ w)
        residual = -(self.weight * self.sign * expit(-margin)) / self.weight_sum
        grad_w = (self.Z.T @ residual.astype(self.Z.dtype, copy=False)).astype(np.float64) + self.ridge * w
        grad_b = float(residual.sum())
        self.last_x = gamma.copy()
        self.last_gradient_max = max(float(np.abs(grad_w).max(initial=0.0)), abs(grad_b))
        return value, self.whitening.gradient(grad_w, grad_b)

    def converged(self, gamma: np.ndarray, tol: float) -> bool:
        """Whether the last evaluation was at ``gamma`` and met ``tol``."""
        return self.last_x is not None and np.array_equal(gamma, self.last_x) and self.last_gradient_max <= tol


def _mean_curvature(Z: np.ndarray, weight: np.ndarray, w: np.ndarray, b: float) -> float:
    """Mean over samples of ``sw * p (1 - p)`` at coefficients ``(w, b)``, floored."""
    p = expit((Z @ w.astype(Z.dtype, copy=False)).astype(np.float64) + b)
    return max(float(weight @ (p * (1.0 - p))) / len(weight), _MIN_CURVATURE)


#: Floor of the gradient tolerance of the float32 phase (its gradients are accurate to ~1e-7).
_FLOAT32_TOL = 1e-6


def _minimise(objective: _Objective, start: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    """L-BFGS from ``start`` until the gradient criterion holds at ``tol`` (or ``max_iter``)."""
    objective(start)
    if objective.last_gradient_max <= tol:
        return start

    def stop(gamma: np.ndarray) -> None:
        if objective.converged(gamma, tol):
            raise StopIteration

    options = {"maxiter": max_iter, "gtol": 0.0, "ftol": 64 * np.finfo(float).eps, "maxls": 50}
    return minimize(objective, start, jac=True, method="L-BFGS-B", callback=stop, options=options).x


def _minimise_two_phase(fast: _Objective, exact: _Objective, start: np.ndarray, max_iter: int, tol: float) -> np.ndarray:
    """Minimise with float32 products to ``max(tol, 1e-6)``, then finish in float64 to ``tol``.

    The float64 phase decides convergence, so the result meets scikit-learn's criterion exactly;
    it usually stops at its first evaluation.
    """
    near = _minimise(fast, start, max_iter, max(tol, _FLOAT32_TOL))
    return _minimise(exact, near, max_iter, tol)


def binary_logistic_path(
    Z: np.ndarray, positive: np.ndarray, weight: np.ndarray, Cs: np.ndarray, max_iter: int = 20000, tol: float = 1e-4
) -> tuple[np.ndarray, np.ndarray]:
    """Binary L2 logistic regressions over ascending ``Cs`` with warm starts (preconditioned L-BFGS).

    The preconditioner and most L-BFGS steps use a float32 copy of ``Z``; the last steps and the
    stopping test use ``Z`` itself (float64).

    Parameters
    ----------
    Z
        (n, d) features (standardised by the caller; the model fits an intercept).
    positive
        (n,) bool: whether each sample is of the positive class.
    weight
        (n,) sample weights (class weights included).
    Cs
        Inverse regularisation strengths, any order.
    max_iter
        Most L-BFGS iterations per C (in each of the float32 and float64 phases).
    tol
        Stop when the largest absolute gradient of scikit-learn's normalised objective is <= tol.

    Returns
    -------
    coefs, intercepts
        (len(Cs), d) and (len(Cs),), in the order of ``Cs``.
    """
    n, d = Z.shape
    sign = np.where(positive, 1.0, -1.0)
    Z32 = Z.astype(np.float32)
    spectrum = _gram_spectrum(Z32)
    coefs, intercepts = np.zeros((len(Cs), d)), np.zeros(len(Cs))
    w, b = np.zeros(d), 0.0
    for i in np.argsort(Cs):
        C = float(Cs[i])
        whitening = _Whitening(spectrum, _mean_curvature(Z32, weight, w, b), C, n, float(weight.sum()))
        fast, exact = _Objective(Z32, sign, weight, C, whitening), _Objective(Z, sign, weight, C, whitening)
        w, b = whitening.to_coef(_minimise_two_phase(fast, exact, whitening.to_gamma(w, b), max_iter, tol))
        coefs[i], intercepts[i] = w, b
    return coefs, intercepts


def _sklearn_path(
    Z: np.ndarray, y: np.ndarray, Cs: np.ndarray, class_weight: str | None, max_iter: int, tol: float, solver: str
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """scikit-learn's ``solver`` over ascending ``Cs`` with warm starts (coefficients, intercepts)."""
    model = LogisticRegression(solver=solver, warm_start=True, class_weight=class_weight, max_iter=max_iter, tol=tol)
    coefs: list[np.ndarray] = [np.empty(0)] * len(Cs)
    intercepts: list[np.ndarray] = [np.empty(0)] * len(Cs)
    for i in np.argsort(Cs):
        model.set_params(C=float(Cs[i]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(Z, y)
        coefs[i], intercepts[i] = model.coef_.copy(), model.intercept_.copy()
    return coefs, intercepts


def _sample_weight(y: np.ndarray, classes: np.ndarray, class_weight: str | None) -> np.ndarray:
    """scikit-learn's sample weights for ``class_weight`` (``"balanced"``: n / (n_classes n_c))."""
    if class_weight is None:
        return np.ones(len(y))
    per_class = compute_class_weight(class_weight, classes=classes, y=y)
    return per_class[np.searchsorted(classes, y)]


def _snapshot(coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray, C: float, class_weight: str | None) -> LogisticRegression:
    """A fitted-looking ``LogisticRegression`` holding given coefficients."""
    model = LogisticRegression(C=C, class_weight=class_weight)
    model.coef_, model.intercept_, model.classes_ = coef, intercept, classes
    model.n_features_in_ = coef.shape[1]
    return model


def logistic_path(
    X: np.ndarray,
    y: np.ndarray,
    Cs: np.ndarray,
    class_weight: str | None = "balanced",
    max_iter: int | None = None,
    tol: float = 1e-4,
) -> tuple[list[LogisticRegression], np.ndarray, np.ndarray]:
    """Fit standardised logistic regressions over ascending ``Cs`` with warm starts.

    Up to :data:`NEWTON_MAX_FEATURES` features scikit-learn's ``newton-cholesky`` fits every path;
    above, two classes use :func:`binary_logistic_path` and more scikit-learn's multinomial
    ``lbfgs``. All stop on scikit-learn's criterion (largest absolute gradient of the normalised objective
    <= ``tol``) and reach the optimum of ``LogisticRegression(C=C, class_weight=class_weight)``
    on the standardised features.

    Parameters
    ----------
    X, y
        (n, d) features and (n,) labels (at least two classes).
    Cs
        Inverse regularisation strengths.
    class_weight
        ``"balanced"`` or None (scikit-learn's semantics).
    max_iter
        Most solver iterations per C (default: 100 for ``newton-cholesky``, 20000 otherwise).
    tol
        Gradient tolerance (scikit-learn's ``tol``).

    Returns
    -------
    models, mean, scale
        One fitted model per C (in the order of ``Cs``) and the standardisation used.
    """
    mean, scale = _standardiser(X)
    Z = (X - mean) / scale
    Cs = np.asarray(Cs, dtype=np.float64)
    classes = np.unique(y)
    newton = Z.shape[1] <= NEWTON_MAX_FEATURES
    if max_iter is None:
        max_iter = 100 if newton else 20000
    if len(classes) == 2 and not newton:
        weight = _sample_weight(y, classes, class_weight)
        coefs, intercepts = binary_logistic_path(Z, y == classes[1], weight, Cs, max_iter, tol)
        models = [_snapshot(c[None, :], np.array([b]), classes, float(C), class_weight) for c, b, C in zip(coefs, intercepts, Cs)]
    else:
        solver = "newton-cholesky" if newton else "lbfgs"
        coefs_k, intercepts_k = _sklearn_path(Z, y, Cs, class_weight, max_iter, tol, solver)
        models = [_snapshot(c, b, classes, float(C), class_weight) for c, b, C in zip(coefs_k, intercepts_k, Cs)]
    return models, mean, scale


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
