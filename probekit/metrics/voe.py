"""Violation-of-expectation metrics on matched possible/impossible pairs (pure functions).

The definitions follow ``facebookresearch/jepa-intuitive-physics``
(``evaluation_code/evals/intuitive_physics/eval.py::compute_metrics``) and agree with it on
tie-free arrays; the differences are stated where they occur:

- scores are shares in [0, 1], not percentages;
- a pair whose two surprises differ by at most ``TIE_RTOL`` x the median surprise counts 0.5 in
  the relative accuracies (the reference counts a tie as a miss, so a constant surprise scores 0
  there and 0.5 here);
- fewer than :data:`MIN_PAIRS` pairs are refused with one line (the reference raises IndexError
  for n <= 9 because its threshold index ``ceil(0.9 n)`` is then out of range);
- windows may be left out of a clip's mean and max by setting them to NaN (the headline keeps
  only windows whose predicted frames include or follow the violation frame).

Row ``i`` of ``possible`` and row ``i`` of ``impossible`` are one pair (the same family); columns
are windows (or time steps).
"""

from __future__ import annotations

import math

import numpy as np

from probekit.errors import BadOptionError
from probekit.metrics.classification import auroc

#: Fewest pairs the metrics accept (the absolute accuracy's threshold index needs n >= 10).
MIN_PAIRS = 10
#: Two surprises within this share of the median surprise are a tie.
TIE_RTOL = 1e-6
#: Metric names, in table order.
VOE_METRICS = ("relative_accuracy_mean", "relative_accuracy_max", "absolute_accuracy_max", "auroc_mean", "auroc_max")


def _pairs(possible: np.ndarray, impossible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(possible, dtype=np.float64)
    b = np.asarray(impossible, dtype=np.float64)
    a = a[:, None] if a.ndim == 1 else a
    b = b[:, None] if b.ndim == 1 else b
    if a.ndim != 2 or a.shape != b.shape:
        raise BadOptionError(f"surprise arrays of shapes {a.shape} and {b.shape}: give matched (pairs, windows) arrays")
    check_pairs(a.shape[0])
    return a, b


def check_pairs(n: int) -> None:
    """Refuse fewer than :data:`MIN_PAIRS` matched pairs with one line.

    Raises
    ------
    BadOptionError
        ``n <= 9``.
    """
    if n < MIN_PAIRS:
        raise BadOptionError(f"{n} possible/impossible pairs: violation-of-expectation metrics need at least {MIN_PAIRS} "
                             f"(the 90th-percentile threshold is undefined below); generate more families (probekit generate --voe)")


def reduce_windows(surprise: np.ndarray, how: str) -> np.ndarray:
    """Per-clip ``mean`` or ``max`` over the windows that are not NaN."""
    with np.errstate(all="ignore"):
        if how == "mean":
            return np.nanmean(surprise, axis=1)
        if how == "max":
            return np.nanmax(surprise, axis=1)
    raise ValueError(f"unknown reduction {how!r}; use 'mean' or 'max'")


def tie_tolerance(possible: np.ndarray, impossible: np.ndarray, rtol: float = TIE_RTOL) -> float:
    """``rtol`` x the median of all finite surprises of both clips of every pair."""
    values = np.concatenate([np.ravel(possible), np.ravel(impossible)])
    values = values[np.isfinite(values)]
    return float(rtol * abs(np.median(values))) if len(values) else 0.0


def relative_accuracy(possible: np.ndarray, impossible: np.ndarray, how: str = "mean", *, tol: float | None = None) -> float:
    """Share of pairs with surprise(possible) < surprise(impossible); ties count 0.5.

    Parameters
    ----------
    possible, impossible
        (pairs, windows) surprises, row ``i`` of each from the same family (NaN = window left out).
    how
        ``"mean"`` or ``"max"`` over windows.
    tol
        Tie tolerance; default :func:`tie_tolerance` of the two arrays.
    """
    a, b = _pairs(possible, impossible)
    tol = tie_tolerance(a, b) if tol is None else tol
    sa, sb = reduce_windows(a, how), reduce_windows(b, how)
    tie = np.abs(sb - sa) <= tol
    return float(np.mean(np.where(tie, 0.5, (sa < sb).astype(float))))


def absolute_threshold(possible_max: np.ndarray) -> float:
    """The reference's threshold: the possible clips' max surprises sorted, at 0-indexed ``ceil(0.9 n)``."""
    data = np.sort(np.asarray(possible_max, dtype=np.float64))
    check_pairs(len(data))
    return float(data[int(math.ceil(0.90 * len(data)))])


def absolute_accuracy(possible: np.ndarray, impossible: np.ndarray) -> float:
    """Single-clip accuracy of the threshold calibrated on possible clips (as the reference: strict comparisons).

    A clip is called impossible when its max surprise exceeds :func:`absolute_threshold`; the
    score is the share of correct calls over all clips of both kinds.
    """
    a, b = _pairs(possible, impossible)
    data1, data2 = reduce_windows(a, "max"), reduce_windows(b, "max")
    thresh = absolute_threshold(data1)
    return float(((data1 < thresh).sum() + (data2 > thresh).sum()) / (len(data1) + len(data2)))


def voe_auroc(possible: np.ndarray, impossible: np.ndarray, how: str = "mean") -> float:
    """AUROC with "possible" as the positive class and negative surprise (mean or max) as the score."""
    a, b = _pairs(possible, impossible)
    labels = np.r_[np.ones(len(a), dtype=bool), np.zeros(len(b), dtype=bool)]
    return auroc(labels, -np.r_[reduce_windows(a, how), reduce_windows(b, how)])


def voe_metrics(possible: np.ndarray, impossible: np.ndarray, *, tol: float | None = None) -> dict[str, float]:
    """All of :data:`VOE_METRICS` for matched pairs (see the module docstring)."""
    a, b = _pairs(possible, impossible)
    tol = tie_tolerance(a, b) if tol is None else tol
    return {
        "relative_accuracy_mean": relative_accuracy(a, b, "mean", tol=tol),
        "relative_accuracy_max": relative_accuracy(a, b, "max", tol=tol),
        "absolute_accuracy_max": absolute_accuracy(a, b),
        "auroc_mean": voe_auroc(a, b, "mean"),
        "auroc_max": voe_auroc(a, b, "max"),
    }


def _auroc_rows(possible: np.ndarray, impossible: np.ndarray) -> np.ndarray:
    """AUROC per row of (B, n) possible and impossible scores ("possible" positive, score = -surprise), ties 0.5."""
    from scipy.stats import rankdata

    n = possible.shape[1]
    ranks = rankdata(np.concatenate([-possible, -impossible], axis=1), axis=1)
    return (ranks[:, :n].sum(axis=1) - n * (n + 1) / 2) / (n * n)


def voe_intervals(possible: np.ndarray, impossible: np.ndarray, *, n_boot: int = 1000, level: float = 0.95,
                  seed: int = 0) -> dict[str, tuple[float, float]]:
    """Percentile intervals of :func:`voe_metrics` resampling pairs (that is, families) with replacement.

    The tie tolerance is fixed from the full data so that every replicate uses the same one; the
    replicates are computed all at once (a replicate equals :func:`voe_metrics` on the drawn pairs).
    """
    a, b = _pairs(possible, impossible)
    tol = tie_tolerance(a, b)
    n = len(a)
    picks = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    draws = {}
    for how in ("mean", "max"):
        sa, sb = reduce_windows(a, how), reduce_windows(b, how)
        outcome = np.where(np.abs(sb - sa) <= tol, 0.5, (sa < sb).astype(float))
        draws[f"relative_accuracy_{how}"] = outcome[picks].mean(axis=1)
        draws[f"auroc_{how}"] = _auroc_rows(sa[picks], sb[picks])
    data1, data2 = reduce_windows(a, "max")[picks], reduce_windows(b, "max")[picks]
    thresh = np.sort(data1, axis=1)[:, int(math.ceil(0.90 * n))][:, None]
    draws["absolute_accuracy_max"] = ((data1 < thresh).sum(axis=1) + (data2 > thresh).sum(axis=1)) / (2 * n)
    alpha = (1.0 - level) / 2.0
    out = {}
    for name in VOE_METRICS:
        values = draws[name][np.isfinite(draws[name])]
        out[name] = (float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))) if len(values) else (math.nan, math.nan)
    return out


__all__ = ["MIN_PAIRS", "TIE_RTOL", "VOE_METRICS", "absolute_accuracy", "absolute_threshold", "check_pairs",
           "reduce_windows", "relative_accuracy", "tie_tolerance", "voe_auroc", "voe_intervals", "voe_metrics"]
