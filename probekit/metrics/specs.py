"""The metric registry: every score probekit reports, described once.

A :class:`MetricSpec` names a metric's function, direction, chance level, display name and unit,
the target kinds it is reported for (and in which order: the first is the primary metric), and,
for metrics that are ratios of per-sample sums, the decomposition the family bootstrap
resamples vectorised. Scoring (:mod:`probekit.evaluation.scoring`), the bootstrap
(:mod:`probekit.metrics.bootstrap`), the diagnosis and the report's figures all read it; a new
metric is one :func:`register_metric` call plus its test.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from typing import Callable

import numpy as np

from probekit.metrics import bootstrap, classification, regression

Metric = Callable[[np.ndarray, np.ndarray], float]
Decomposition = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]]


@dataclass(frozen=True)
class MetricSpec:
    """One metric.

    Attributes
    ----------
    name
        Key in the results table's ``metric`` column.
    function
        ``function(y_true, y_pred) -> float``; None for a score its producer computes from
        other scores (``selectivity``: task minus control).
    higher_is_better
        Direction of the metric.
    chance
        Chance level: a number, ``"majority"`` (the majority share of the labels, from the
        ``base_rate`` row) or None where no fixed level exists.
    display
        Human name for text and axes.
    unit
        ``"target"`` when the metric is in the target's own unit, else its unit ("" unitless).
    inputs
        What scoring feeds the function as ``y_pred``: ``"predictions"`` (values or labels),
        ``"scores"`` (decision values: ranking metrics) or ``"errors"`` (per-sample errors
        computed by the target kind, e.g. geodesic angles).
    kinds
        Target kinds the metric is reported for (``continuous``, ``binary``, ``rotation``).
    rank
        Order among a kind's metrics (lower first; the first is the kind's primary metric).
    priority
        Order in which the diagnosis picks a target's primary metric from the scores present
        (lower first); None: never a primary metric.
    decomposition
        ``(y_true, y_pred) -> (per-sample sums, finisher)`` for ratio-of-sums metrics, which the
        bootstrap resamples without refitting; None otherwise.
    """

    name: str
    function: Metric | None
    higher_is_better: bool
    chance: float | str | None
    display: str
    unit: str = ""
    inputs: str = "predictions"
    kinds: tuple[str, ...] = ()
    rank: int = 100
    priority: int | None = None
    decomposition: Decomposition | None = None


METRIC_SPECS: dict[str, MetricSpec] = {}


def register_metric(spec: MetricSpec) -> MetricSpec:
    """Add a metric to the registry (replacing one of the same name)."""
    if spec.inputs not in ("predictions", "scores", "errors"):
        raise ValueError(f"metric {spec.name!r}: inputs must be predictions, scores or errors, not {spec.inputs!r}")
    METRIC_SPECS[spec.name] = spec
    return spec


def get_metric(name: str) -> MetricSpec:
    """Look a metric up by name; an unknown name raises ``ValueError`` listing the known ones."""
    if name not in METRIC_SPECS:
        raise ValueError(f"unknown metric {name!r}; known: {sorted(METRIC_SPECS)}")
    return METRIC_SPECS[name]


def metrics_for(kind: str) -> tuple[str, ...]:
    """The metrics reported for a target kind, primary first."""
    specs = sorted((s for s in METRIC_SPECS.values() if kind in s.kinds), key=lambda s: s.rank)
    return tuple(s.name for s in specs)


def primary_order() -> tuple[str, ...]:
    """The metrics that can be a target's primary metric, in the order the diagnosis tries them."""
    return tuple(s.name for s in sorted((s for s in METRIC_SPECS.values() if s.priority is not None), key=lambda s: s.priority))


class _View(Mapping):
    """A read-only mapping computed from the registry on each access (so later registrations show)."""

    def __init__(self, keys: Callable[[], list[str]], value: Callable[[str], object]) -> None:
        self._keys, self._value = keys, value

    def __getitem__(self, key: str) -> object:
        if key not in self._keys():
            raise KeyError(key)
        return self._value(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


class _NameSet(Set):
    """The registered metric names for which ``keep(spec)`` holds, computed on each access."""

    def __init__(self, keep: Callable[[MetricSpec], bool]) -> None:
        self._keep = keep

    def _names(self) -> list[str]:
        return [name for name, spec in METRIC_SPECS.items() if self._keep(spec)]

    def __contains__(self, name: object) -> bool:
        return name in METRIC_SPECS and self._keep(METRIC_SPECS[name])  # type: ignore[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


def _kinds() -> list[str]:
    return list(dict.fromkeys(k for s in METRIC_SPECS.values() for k in s.kinds))


#: ``{kind: (metric, ...)}``, primary metric first.
METRICS_BY_KIND: Mapping[str, tuple[str, ...]] = _View(_kinds, metrics_for)
#: ``{metric: higher_is_better}``.
HIGHER_IS_BETTER: Mapping[str, bool] = _View(lambda: list(METRIC_SPECS), lambda name: METRIC_SPECS[name].higher_is_better)
#: Metrics for which lower is better.
LOWER_IS_BETTER: Set[str] = _NameSet(lambda spec: not spec.higher_is_better)
#: ``{metric: display name}``.
DISPLAY_NAMES: Mapping[str, str] = _View(lambda: list(METRIC_SPECS), lambda name: METRIC_SPECS[name].display)


def _mean(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.nanmean(y_pred)) if len(y_pred) else float("nan")


def _base_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return classification.base_rate(y_true)


for _spec in (
    MetricSpec("r2", regression.r2, True, 0.0, "R²", kinds=("continuous",), rank=0, priority=0, decomposition=bootstrap.r2_sums),
    MetricSpec("mae", regression.mae, False, None, "MAE", unit="target", kinds=("continuous",), rank=1, priority=5,
               decomposition=bootstrap.mae_sums),
    MetricSpec("balanced_accuracy", classification.balanced_accuracy, True, 0.5, "balanced accuracy", kinds=("binary",), rank=0,
               priority=1, decomposition=bootstrap.balanced_accuracy_sums),
    MetricSpec("accuracy", classification.accuracy, True, "majority", "accuracy", kinds=("binary",), rank=1, priority=3,
               decomposition=bootstrap.accuracy_sums),
    MetricSpec("auroc", classification.auroc, True, 0.5, "AUROC", inputs="scores", kinds=("binary",), rank=2, priority=2),
    MetricSpec("auprc", classification.auprc, True, None, "AUPRC", inputs="scores", kinds=("binary",), rank=3),
    MetricSpec("base_rate", _base_rate, True, None, "base rate", kinds=("binary",), rank=4, decomposition=bootstrap.base_rate_sums),
    MetricSpec("geodesic_deg", _mean, False, None, "geodesic error", unit="deg", inputs="errors", kinds=("rotation",), rank=0,
               priority=4, decomposition=bootstrap.mean_sums),
    MetricSpec("mean", _mean, False, None, "mean", decomposition=bootstrap.mean_sums),
    MetricSpec("cross_entropy_bits", bootstrap.cross_entropy_bits, False, None, "cross-entropy", unit="bits",
               decomposition=bootstrap.cross_entropy_sums),
    MetricSpec("selectivity", None, True, None, "selectivity"),
):
    register_metric(_spec)
