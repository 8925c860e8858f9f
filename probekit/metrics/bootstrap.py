"""Bootstrap intervals that resample whole families (clips and their twins), never frames."""

from __future__ import annotations

from typing import Callable

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray], float]


def _family_sums(values: np.ndarray, inverse: np.ndarray, n_families: int) -> np.ndarray:
    """Sum per family of each column of ``values`` (n, c) -> (F, c)."""
    out = np.zeros((n_families, values.shape[1]))
    np.add.at(out, inverse, values)
    return out


def r2_sums(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Per-sample sums of R² (mean over output columns) and its vectorised finisher."""
    yt = np.asarray(y_true, float).reshape(len(y_true), -1)
    yp = np.asarray(y_pred, float).reshape(len(y_pred), -1)
    m = yt.shape[1]
    stats = np.hstack([np.ones((len(yt), 1)), yt, yt**2, (yt - yp) ** 2])

    def finish(s: np.ndarray) -> np.ndarray:
        n = s[:, :1]
        sy, syy, sres = s[:, 1 : 1 + m], s[:, 1 + m : 1 + 2 * m], s[:, 1 + 2 * m :]
        tot = syy - sy**2 / np.maximum(n, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(tot > 1e-12 * np.maximum(syy, 1e-300), 1.0 - sres / tot, np.where(sres == 0, 1.0, 0.0))
        return r.mean(axis=1)

    return stats, finish


def _ratio(values: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    stats = np.column_stack([np.ones(len(values)), values])
    return stats, lambda s: s[:, 1] / s[:, 0]


def mae_sums(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Per-sample absolute errors (mean over outputs) and the mean as finisher."""
    vals = np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))
    return _ratio(vals.reshape(len(vals), -1).mean(axis=1))


def mean_sums(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The mean of ``y_pred`` (e.g. per-sample errors) as a ratio of sums."""
    vals = np.asarray(y_pred, float)
    return _ratio(vals.reshape(len(vals), -1).mean(axis=1))


def cross_entropy_sums(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Per-sample cross-entropy in bits of P(y = 1) = ``y_pred``."""
    yt = np.asarray(y_true).astype(bool).ravel()
    p = np.clip(np.asarray(y_pred, float).ravel(), 1e-6, 1 - 1e-6)
    return _ratio(-np.log2(np.where(yt, p, 1.0 - p)))


def accuracy_sums(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Per-sample hits of predicted labels."""
    yt = np.asarray(y_true).astype(bool).ravel()
    return _ratio(yt == np.asarray(y_pred).astype(bool).ravel())


def base_rate_sums(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The share of positive labels as a ratio of sums."""
    return _ratio(np.asarray(y_true).astype(bool).ravel())


def balanced_accuracy_sums(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Per-sample counts of positives, true positives, negatives and true negatives."""
    yt = np.asarray(y_true).astype(bool).ravel()
    yp = np.asarray(y_pred).astype(bool).ravel()
    stats = np.column_stack([yt, yt & yp, ~yt, ~yt & ~yp]).astype(float)

    def finish(s: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            rec = np.stack([s[:, 1] / s[:, 0], s[:, 3] / s[:, 2]], axis=1)
        return np.nanmean(np.where(np.isfinite(rec), rec, np.nan), axis=1)

    return stats, finish


def _decomposable(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]] | None:
    """Per-sample statistics and a vectorised finisher, for metrics registered with a decomposition."""
    from probekit.metrics.specs import METRIC_SPECS

    spec = METRIC_SPECS.get(name)
    return None if spec is None or spec.decomposition is None else spec.decomposition(y_true, y_pred)


def family_members(groups: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Family index of each sample and the sample indices of each family."""
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse)
    members = np.split(order, np.cumsum(counts)[:-1])
    return inverse, members


def _resample(members: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    picks = rng.integers(0, len(members), size=len(members))
    return np.concatenate([members[i] for i in picks])


def _ranking_replicates(name: str, y_true: np.ndarray, score: np.ndarray, inverse: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """AUROC or average precision for each row of family ``counts`` (B, F), vectorised.

    A resampled data set is the original samples weighted by how often their family was drawn,
    so both metrics follow from per-score-value sums of positive and negative weights.
    """
    from scipy import sparse

    y = np.asarray(y_true).astype(bool).ravel()
    values, group = np.unique(np.asarray(score, dtype=np.float64).ravel(), return_inverse=True)
    n, u = len(y), len(values)
    pos = sparse.csr_matrix((y.astype(float), (np.arange(n), group)), shape=(n, u))
    neg = sparse.csr_matrix(((~y).astype(float), (np.arange(n), group)), shape=(n, u))
    out = []
    for start in range(0, len(counts), 100):
        w = counts[start : start + 100][:, inverse].astype(float)  # (b, n) sample weights
        p = np.asarray((pos.T @ w.T).T)  # (b, u) positive weight per score value (ascending)
        q = np.asarray((neg.T @ w.T).T)
        p_tot, q_tot = p.sum(axis=1), q.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            if name == "auroc":
                below = np.cumsum(q, axis=1) - q
                stat = (p * (below + 0.5 * q)).sum(axis=1) / (p_tot * q_tot)
            else:  # average precision, thresholds from the highest score down
                tp = np.cumsum(p[:, ::-1], axis=1)
                fp = np.cumsum(q[:, ::-1], axis=1)
                precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
                stat = (p[:, ::-1] * precision).sum(axis=1) / p_tot
        out.append(stat)
    return np.concatenate(out)


def _named(metric: Metric | str) -> Metric:
    if callable(metric):
        return metric
    from probekit.metrics.specs import get_metric

    function = get_metric(metric).function
    if function is None:
        raise ValueError(f"metric {metric!r} is computed from other scores, not from predictions")
    return function


def bootstrap_interval(
    metric: Metric | str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: np.ndarray,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` resampling families with replacement.

    Parameters
    ----------
    metric
        ``metric(y_true, y_pred) -> float``, or a name (``"r2"``, ``"mae"``, ``"accuracy"``,
        ``"balanced_accuracy"``, ``"auroc"``, ``"auprc"``, ``"base_rate"``, ``"mean"``: the mean
        of ``y_pred``, e.g. per-sample errors); ratio-of-sums metrics are resampled vectorised.
    y_true, y_pred
        Per-sample truths and predictions (first axis = samples).
    groups
        (n,) family of each sample; families are resampled as wholes.
    n_boot
        Number of bootstrap replicates.
    level
        Coverage of the interval.
    seed
        Seed of the resampling.

    Returns
    -------
    (low, high)
        NaN if fewer than 2 families.
    """
    inverse, members = family_members(groups)
    if len(members) < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    fast = _decomposable(metric, y_true, y_pred) if isinstance(metric, str) else None
    if fast is not None:
        per_sample, finish = fast
        sums = _family_sums(per_sample, inverse, len(members))
        counts = rng.multinomial(len(members), np.full(len(members), 1.0 / len(members)), size=n_boot)
        with np.errstate(divide="ignore", invalid="ignore"):
            stats = finish(counts @ sums)
    elif metric in ("auroc", "auprc"):
        counts = rng.multinomial(len(members), np.full(len(members), 1.0 / len(members)), size=n_boot)
        stats = _ranking_replicates(metric, y_true, y_pred, inverse, counts)
    else:
        fn = _named(metric)
        stats = np.array([fn(y_true[idx], y_pred[idx]) for idx in (_resample(members, rng) for _ in range(n_boot))])
    stats = stats[np.isfinite(stats)]
    if len(stats) == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(low), float(high)


def paired_bootstrap(
    metric: Metric | str,
    y_true: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    groups: np.ndarray,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    y_true_b: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """Paired bootstrap of ``metric(a) - metric(b)`` on the same samples, resampling families.

    ``y_true_b`` (optional) scores ``pred_b`` against other labels on the same samples (e.g.
    control-task labels for selectivity).

    Returns
    -------
    (delta, low, high)
        The observed difference and its percentile interval; the same resampled families are
        used for both predictions in every replicate.
    """
    fn = _named(metric)
    yb = y_true if y_true_b is None else y_true_b
    delta = fn(y_true, pred_a) - fn(yb, pred_b)
    inverse, members = family_members(groups)
    if len(members) < 2:
        return float(delta), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    fast_a = _decomposable(metric, y_true, pred_a) if isinstance(metric, str) else None
    if fast_a is not None:
        fast_b = _decomposable(metric, yb, pred_b)
        counts = rng.multinomial(len(members), np.full(len(members), 1.0 / len(members)), size=n_boot)
        with np.errstate(divide="ignore", invalid="ignore"):
            stats = fast_a[1](counts @ _family_sums(fast_a[0], inverse, len(members))) - fast_b[1](
                counts @ _family_sums(fast_b[0], inverse, len(members))
            )
    else:
        stats = []
        for _ in range(n_boot):
            idx = _resample(members, rng)
            stats.append(fn(y_true[idx], pred_a[idx]) - fn(yb[idx], pred_b[idx]))
        stats = np.array(stats)
    stats = stats[np.isfinite(stats)]
    if len(stats) == 0:
        return float(delta), float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(delta), float(low), float(high)


def cross_entropy_bits(y_true: np.ndarray, prob: np.ndarray) -> float:
    """Mean cross-entropy in bits of probabilities ``prob`` of class 1 for binary ``y_true``.

    Probabilities are clipped to [1e-6, 1 - 1e-6] so one confident miss costs at most ~20 bits.
    """
    stats, finish = cross_entropy_sums(y_true, prob)
    if len(stats) == 0:
        return float("nan")
    return float(finish(stats.sum(axis=0, keepdims=True))[0])


def contrast_bootstrap(
    terms: list[tuple[float, str, np.ndarray, np.ndarray, np.ndarray]],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Family bootstrap of a weighted sum of metrics, each computed on its own rows.

    Each term is ``(weight, metric, y_true, y_pred, groups)``; the value is
    ``sum(weight * metric(y_true, y_pred))``. Every replicate draws families once and weights
    the rows of every term by how often their family was drawn, so terms on different samples
    of the same families (stores on different time grids, a model and its baseline) stay paired
    at the family level. Metrics must be ratios of sums (``r2``, ``mae``, ``mean``,
    ``accuracy``, ``balanced_accuracy``, ``cross_entropy_bits``).

    Returns
    -------
    (value, low, high)
        The observed value and its percentile interval (NaN bounds with fewer than 2 families).
    """
    all_groups = np.concatenate([np.asarray(t[4]).astype(str) for t in terms]) if terms else np.zeros(0, str)
    names, inverse_all = np.unique(all_groups, return_inverse=True)
    n_fam = len(names)
    parts = []
    start = 0
    value = 0.0
    for weight, metric, y_true, y_pred, groups in terms:
        fast = _decomposable(metric, y_true, y_pred)
        if fast is None:
            raise ValueError(f"contrast_bootstrap: metric {metric!r} is not a ratio of sums")
        stats, finish = fast
        inv = inverse_all[start : start + len(stats)]
        start += len(stats)
        with np.errstate(divide="ignore", invalid="ignore"):
            value += weight * float(finish(stats.sum(axis=0, keepdims=True))[0])
        parts.append((weight, _family_sums(stats, inv, n_fam), finish))
    if n_fam < 2:
        return float(value), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_fam, np.full(n_fam, 1.0 / n_fam), size=n_boot)
    with np.errstate(divide="ignore", invalid="ignore"):
        reps = sum(weight * finish(counts @ sums) for weight, sums, finish in parts)
    reps = np.asarray(reps)[np.isfinite(reps)]
    if len(reps) == 0:
        return float(value), float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(reps, [alpha, 1.0 - alpha])
    return float(value), float(low), float(high)
