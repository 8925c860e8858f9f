"""Disentanglement of a code against named factors: DCI (Eastwood & Williams 2018) and MIG (Chen et al. 2018).

The scores follow ``google-research/disentanglement_lib`` (``evaluation/metrics/dci.py`` and
``mig.py``):

- **D and C** from an importance matrix ``R`` (codes x factors): per code
  ``1 - H_F(R[i, :] / sum)`` (entropy in base = number of factors), weighted by the code's share
  of all importance; per factor ``1 - H_C(R[:, j] / sum)`` (base = number of codes), weighted by
  the factor's share. An all-zero matrix gives 0 (uniform weights).
- **Importance** from a lasso per factor by default (``|coefficient|`` on standardised codes;
  L1-penalised logistic regression for categorical factors), or from gradient-boosted trees
  (``feature_importances_`` of scikit-learn's ``GradientBoostingClassifier`` on the discretised
  factor, disentanglement_lib's choice, kept for parity).
- **Informativeness** is named by what it measures, never as an unqualified "error":
  ``nrmse`` (root mean squared out-of-fold error over the factor's standard deviation; lasso,
  continuous factors; lower is better), ``error_rate`` (1 - accuracy; lasso, categorical
  factors; lower is better) or ``accuracy`` (trees; disentanglement_lib's "informativeness
  err" is this accuracy; higher is better).
- **MIG**: each latent is cut into 20 equal-width bins (``np.histogram`` edges, as
  disentanglement_lib's ``histogram_discretize``); the factors are discretised by
  :func:`discretise_factor`; ``I(v_j; z_i)`` in nats by :func:`mutual_information` (the formula
  of ``sklearn.metrics.mutual_info_score``, for every latent in one pass);
  ``MIG_j = (I_top1 - I_top2) / H(v_j)``. A constant factor (``H = 0``) is refused with a reason.

Both D and MIG depend on the basis of the code: :func:`random_rotation` gives the control.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.stats
from sklearn.exceptions import ConvergenceWarning

from probekit.errors import BadOptionError

#: Importance estimators of :func:`dci`.
DCI_METHODS = ("lasso", "gbt")
#: Equal-width bins per latent for MIG (disentanglement_lib's gin setting).
MIG_BINS = 20
#: Distinct values up to which a continuous factor is used as its own discrete label.
MAX_DISTINCT = 20
#: Equal-frequency bins of a continuous factor with more distinct values.
FACTOR_BINS = 10
#: Lasso path of the default importance: number of penalties and smallest / largest penalty.
LASSO_ALPHAS, LASSO_EPS = 15, 1e-2
#: Inner folds that choose the lasso penalty.
INNER_FOLDS = 3


# -- D and C from an importance matrix -------------------------------------------------------
def disentanglement_per_code(importance: np.ndarray) -> np.ndarray:
    """1 - entropy of each code's importance over the factors (log base = number of factors)."""
    importance = np.asarray(importance, dtype=np.float64)
    return 1.0 - scipy.stats.entropy(importance.T + 1e-11, base=importance.shape[1])


def disentanglement(importance: np.ndarray) -> float:
    """D: per-code disentanglement weighted by each code's share of the importance.

    Parameters
    ----------
    importance
        (codes, factors) non-negative importance matrix.
    """
    importance = np.asarray(importance, dtype=np.float64)
    per_code = disentanglement_per_code(importance)
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    return float(np.sum(per_code * weights.sum(axis=1) / weights.sum()))


def completeness_per_factor(importance: np.ndarray) -> np.ndarray:
    """1 - entropy of each factor's importance over the codes (log base = number of codes)."""
    importance = np.asarray(importance, dtype=np.float64)
    return 1.0 - scipy.stats.entropy(importance + 1e-11, base=importance.shape[0])


def completeness(importance: np.ndarray) -> float:
    """C: per-factor completeness weighted by each factor's share of the importance."""
    importance = np.asarray(importance, dtype=np.float64)
    per_factor = completeness_per_factor(importance)
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    return float(np.sum(per_factor * weights.sum(axis=0) / weights.sum()))


# -- factors ----------------------------------------------------------------------------------
def discretise_factor(values: np.ndarray, categorical: bool = False) -> np.ndarray:
    """Integer labels of a factor for MIG and for the tree classifiers.

    Categorical factors and continuous ones with at most :data:`MAX_DISTINCT` distinct values
    keep their values (as label codes); others are cut into :data:`FACTOR_BINS` equal-frequency
    bins (quantile edges over the given rows).
    """
    values = np.asarray(values, dtype=np.float64)
    distinct, codes = np.unique(values, return_inverse=True)
    if categorical or len(distinct) <= MAX_DISTINCT:
        return codes.astype(np.int64)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, FACTOR_BINS + 1)[1:-1]))
    return np.digitize(values, edges).astype(np.int64)


def random_rotation(dim: int, seed: int = 0) -> np.ndarray:
    """A Haar-random (dim, dim) orthogonal matrix (the basis control of D and MIG)."""
    if dim < 2:
        raise BadOptionError(f"random_rotation: needs a code of at least 2 dimensions, got {dim}")
    return scipy.stats.ortho_group.rvs(dim, random_state=np.random.default_rng(seed))


# -- MIG --------------------------------------------------------------------------------------
def histogram_discretise(codes: np.ndarray, bins: int = MIG_BINS) -> np.ndarray:
    """Each latent into ``bins`` equal-width bins over its range (labels 1..bins)."""
    codes = np.asarray(codes, dtype=np.float64)
    out = np.zeros(codes.shape, dtype=np.int64)
    for i in range(codes.shape[1]):
        out[:, i] = np.digitize(codes[:, i], np.histogram(codes[:, i], bins)[1][:-1])
    return out


def mutual_information(labels: np.ndarray, binned: np.ndarray) -> np.ndarray:
    """``I(labels; binned[:, i])`` in nats for every column ``i``, from the contingency counts.

    The plug-in estimate of ``sklearn.metrics.mutual_info_score`` (clipped at 0), computed for all
    columns at once: ``sum_ab n_ab / n * log(n * n_ab / (n_a * n_b))`` over non-empty cells.

    Parameters
    ----------
    labels
        (n,) discrete labels of any dtype.
    binned
        (n,) or (n, columns) discrete codes of any dtype.
    """
    binned = np.asarray(binned)
    single = binned.ndim == 1
    binned = binned.reshape(len(binned), -1)
    n, columns = binned.shape
    if n == 0:
        return np.zeros(columns) if not single else np.float64(0.0)
    a = np.unique(np.asarray(labels), return_inverse=True)[1].reshape(-1)
    b = np.empty((n, columns), dtype=np.int64)
    for i in range(columns):
        b[:, i] = np.unique(binned[:, i], return_inverse=True)[1].reshape(-1)
    na, nb = int(a.max()) + 1, int(b.max()) + 1
    cells = (np.arange(columns)[None, :] * na + a[:, None]) * nb + b
    joint = np.bincount(cells.reshape(-1), minlength=columns * na * nb).reshape(columns, na, nb).astype(np.float64)
    n_a = joint.sum(axis=2, keepdims=True)
    n_b = joint.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint / n * (np.log(joint) + np.log(n) - np.log(n_a) - np.log(n_b)), 0.0)
    info = np.clip(terms.sum(axis=(1, 2)), 0.0, None)
    return info[0] if single else info


@dataclass
class MIGResult:
    """Mutual information gap per factor.

    Attributes
    ----------
    per_factor
        Factor name -> MIG in [0, 1] (only factors that could be scored).
    refused
        Factor name -> why it has no MIG (e.g. constant over the rows).
    mutual_info
        (latents, factors scored) mutual information in nats.
    """

    per_factor: dict[str, float] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    mutual_info: np.ndarray | None = None

    @property
    def value(self) -> float:
        """Mean over the scored factors (NaN when none could be scored)."""
        return float(np.mean(list(self.per_factor.values()))) if self.per_factor else float("nan")


def mig(codes: np.ndarray, factors: dict[str, np.ndarray], *, bins: int = MIG_BINS) -> MIGResult:
    """Discrete MIG of ``codes`` against discrete ``factors``.

    Parameters
    ----------
    codes
        (n, latents) continuous code, at least 2 latents.
    factors
        Name -> (n,) integer labels (see :func:`discretise_factor`).
    bins
        Equal-width bins per latent.

    Returns
    -------
    MIGResult
        A constant factor is listed in ``refused`` with the reason, never scored as NaN.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[1] < 2:
        raise BadOptionError(f"mig: needs a (rows, latents) code with at least 2 latents, got shape {codes.shape}")
    binned = histogram_discretise(codes, bins)
    result = MIGResult()
    columns = []
    for name, labels in factors.items():
        labels = np.asarray(labels)
        if len(labels) != len(codes):
            raise BadOptionError(f"mig: factor {name!r} has {len(labels)} rows, the code {len(codes)}")
        entropy = float(mutual_information(labels, labels))
        if entropy <= 0:
            result.refused[name] = f"factor {name} is constant over the {len(labels)} rows (zero entropy)"
            continue
        info = mutual_information(labels, binned)
        top = np.sort(info)[::-1]
        result.per_factor[name] = float((top[0] - top[1]) / entropy)
        columns.append(info)
    result.mutual_info = np.stack(columns, axis=1) if columns else np.zeros((codes.shape[1], 0))
    return result


# -- DCI --------------------------------------------------------------------------------------
@dataclass
class DCIResult:
    """DCI of one code.

    Attributes
    ----------
    importance
        (codes, factors scored) importance matrix (mean over the outer folds).
    factors
        Names of the scored factors (columns of ``importance``).
    informativeness
        Factor name -> out-of-fold informativeness, measured as ``informativeness_kind``.
    informativeness_kind
        Factor name -> ``nrmse``, ``error_rate`` or ``accuracy``.
    predictions
        Factor name -> (truth, out-of-fold prediction) for intervals.
    refused
        Factor name -> why it was not scored.
    """

    importance: np.ndarray
    factors: list[str]
    informativeness: dict[str, float]
    informativeness_kind: dict[str, str]
    predictions: dict[str, tuple[np.ndarray, np.ndarray]]
    refused: dict[str, str]

    @property
    def disentanglement(self) -> float:
        """D."""
        return disentanglement(self.importance) if self.importance.size else float("nan")

    @property
    def completeness(self) -> float:
        """C."""
        return completeness(self.importance) if self.importance.size else float("nan")

    @property
    def completeness_per_factor(self) -> dict[str, float]:
        """Factor name -> completeness."""
        if not self.importance.size:
            return {}
        return dict(zip(self.factors, completeness_per_factor(self.importance).tolist()))


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (train - mean) / std, (test - mean) / std


def _inner_splits(groups: np.ndarray, folds: int):
    from sklearn.model_selection import GroupKFold

    n_groups = len(np.unique(groups))
    return list(GroupKFold(n_splits=max(2, min(folds, n_groups))).split(np.zeros(len(groups)), groups=groups))


def _fit_factor(method: str, x_train, y_train, x_test, categorical: bool, groups_train, folds: int, seed: int):
    """Importance (codes,), test predictions and the informativeness kind of one factor."""
    if method == "gbt":
        from sklearn.ensemble import GradientBoostingClassifier

        model = GradientBoostingClassifier(random_state=seed).fit(x_train, y_train)
        return np.abs(model.feature_importances_), model.predict(x_test), "accuracy"
    inner = _inner_splits(groups_train, INNER_FOLDS)
    with warnings.catch_warnings():
        # a strongly penalised path point may stop at max_iter; the selected fit is what counts
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _fit_linear(x_train, y_train, x_test, categorical, inner, seed)


def _fit_linear(x_train, y_train, x_test, categorical: bool, inner, seed: int):
    """Lasso on the standardised factor, or a multi-task lasso on the one-hot classes."""
    from sklearn.linear_model import LassoCV, MultiTaskLassoCV

    settings = dict(cv=inner, alphas=LASSO_ALPHAS, eps=LASSO_EPS, tol=1e-3, max_iter=2000, random_state=seed)
    if categorical:
        classes = np.unique(y_train)
        onehot = (y_train[:, None] == classes[None, :]).astype(np.float64)
        model = MultiTaskLassoCV(**settings).fit(x_train, onehot - onehot.mean(axis=0))
        scores = model.predict(x_test)
        return np.linalg.norm(model.coef_, axis=0), classes[np.argmax(scores, axis=1)], "error_rate"
    mean, std = y_train.mean(), y_train.std()
    std = std if std > 0 else 1.0
    model = LassoCV(**settings).fit(x_train, (y_train - mean) / std)
    return np.abs(model.coef_), model.predict(x_test) * std + mean, "nrmse"


def dci(
    codes: np.ndarray,
    factors: dict[str, np.ndarray],
    groups: np.ndarray,
    *,
    categorical: tuple[str, ...] = (),
    method: str = "lasso",
    folds: int = 5,
    seed: int = 0,
) -> DCIResult:
    """DCI of ``codes`` against named factors, with family-grouped cross-fitting.

    Each outer fold (``GroupKFold`` over ``groups``) fits one model per factor on standardised
    codes; the lasso penalty is chosen by inner grouped CV (:data:`INNER_FOLDS` folds) on the
    training part. The importance matrix is the mean over folds; informativeness is scored on
    the out-of-fold predictions.

    Parameters
    ----------
    codes
        (n, codes) clip-level code.
    factors
        Name -> (n,) factor values (continuous or categorical codes).
    groups
        (n,) family of each row.
    categorical
        Names of categorical factors (classification for the lasso method).
    method
        ``"lasso"`` (default) or ``"gbt"`` (disentanglement_lib parity; factors discretised by
        :func:`discretise_factor`).
    folds, seed
        Outer folds and seed.
    """
    from sklearn.model_selection import GroupKFold

    if method not in DCI_METHODS:
        raise BadOptionError(f"dci: unknown method {method!r}; use one of {', '.join(DCI_METHODS)}")
    codes = np.asarray(codes, dtype=np.float64)
    groups = np.asarray(groups)
    n_groups = len(np.unique(groups))
    if n_groups < 4:
        raise BadOptionError(f"dci: needs at least 4 families for grouped cross-fitting, got {n_groups}")
    outer = list(GroupKFold(n_splits=min(folds, n_groups)).split(codes, groups=groups))
    importances, names, info, kinds, preds, refused = [], [], {}, {}, {}, {}
    for name, values in factors.items():
        values = np.asarray(values, dtype=np.float64)
        is_categorical = name in categorical
        target = discretise_factor(values, is_categorical) if (method == "gbt" or is_categorical) else values
        if len(np.unique(target)) < 2:
            refused[name] = f"factor {name} is constant over the {len(values)} clips"
            continue
        if any(len(np.unique(target[train])) < 2 for train, _ in outer):
            refused[name] = f"factor {name} is constant in the training part of a fold"
            continue
        importance = np.zeros(codes.shape[1])
        prediction = np.zeros(len(values), dtype=np.float64)
        kind = ""
        for train, test in outer:
            x_train, x_test = _standardise(codes[train], codes[test])
            imp, pred, kind = _fit_factor(method, x_train, target[train], x_test, is_categorical, groups[train], folds, seed)
            importance += imp / len(outer)
            prediction[test] = pred
        if kind == "nrmse":
            score = float(np.sqrt(np.mean((target - prediction) ** 2)) / max(np.std(target), 1e-12))
        elif kind == "error_rate":
            score = float(np.mean(target != prediction))
        else:
            score = float(np.mean(target == prediction))
        importances.append(importance)
        names.append(name)
        info[name], kinds[name], preds[name] = score, kind, (target, prediction)
    matrix = np.stack(importances, axis=1) if importances else np.zeros((codes.shape[1], 0))
    return DCIResult(matrix, names, info, kinds, preds, refused)


__all__ = [
    "DCIResult",
    "DCI_METHODS",
    "MIGResult",
    "completeness",
    "completeness_per_factor",
    "dci",
    "discretise_factor",
    "disentanglement",
    "disentanglement_per_code",
    "histogram_discretise",
    "mig",
    "random_rotation",
]
