"""Registry of readouts: which features a readout reads and which estimator it fits.

A readout is named (``linear``, ``object``, ``mlp``, ``attentive``); it names the feature kind
it reads from a store layer and a factory for continuous and for binary targets. New readouts
are added with :func:`register_readout` and are picked up by the estimator-contract test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from sklearn.base import BaseEstimator

from probekit.errors import BadOptionError
from probekit.probes.attentive import AttentiveClassifierProbe, AttentiveRegressorProbe
from probekit.probes.linear import LogisticProbe, RidgeProbe
from probekit.probes.mlp import MLPClassifierProbe, MLPRegressorProbe


@dataclass(frozen=True)
class Readout:
    """A named readout.

    Attributes
    ----------
    name
        Readout name used in suites, the CLI and the results table.
    features
        Store feature kind per level: ``"time"`` (pooled per token step), ``"grid"`` (the step's
        tokens pooled to a coarse spatial grid and flattened; derived from full tokens where the
        store has no grid), ``"object"`` (the slot's mask-pooled tokens), ``"tokens"`` (the full
        grid of the step).
    regressor, classifier
        Factories ``(**params) -> estimator`` for continuous and binary targets.
    small_params
        Parameters for quick tests of the estimator contract.
    """

    name: str
    features: str
    regressor: Callable[..., BaseEstimator]
    classifier: Callable[..., BaseEstimator]
    small_params: dict[str, Any] = field(default_factory=dict)

    @property
    def fast(self) -> bool:
        """Whether the sweep fits this readout through its estimators' nested-CV paths: a
        capability both estimators declare (``nested_path``), never a flag of the readout."""
        return bool(getattr(self.regressor, "nested_path", False) and getattr(self.classifier, "nested_path", False))


READOUTS: dict[str, Readout] = {}


def register_readout(readout: Readout) -> Readout:
    """Add a readout to the registry (replacing one of the same name)."""
    READOUTS[readout.name] = readout
    return readout


def get_readout(name: str) -> Readout:
    """Look a readout up by name; an unknown name raises an error listing the valid ones."""
    if name not in READOUTS:
        raise BadOptionError(f"--readouts: unknown readout {name!r}; valid readouts: {', '.join(READOUTS)}")
    return READOUTS[name]


_TORCH_SMALL = {"max_epochs": 2, "batch_size": 256}

register_readout(Readout("linear", "time", RidgeProbe, LogisticProbe))
register_readout(Readout("spatial", "grid", RidgeProbe, LogisticProbe))
register_readout(Readout("object", "object", RidgeProbe, LogisticProbe))
register_readout(Readout("mlp", "time", MLPRegressorProbe, MLPClassifierProbe, small_params={**_TORCH_SMALL, "hidden": 16}))
register_readout(
    Readout("attentive", "tokens", AttentiveRegressorProbe, AttentiveClassifierProbe, small_params={**_TORCH_SMALL, "width": 8})
)
