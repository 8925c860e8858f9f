"""Units of the sweep's work: one readout at one layer of one store, fitted as a pure function.

A :class:`FitUnit` holds everything its fits need (features, targets, folds, the cross-fitted
baselines of the joint models) and nothing of the sweep, so :func:`run_unit` can run in this
process, in a joblib worker or on a dask.distributed worker and return the same numbers: it
pins BLAS (and torch, for torch readouts) to ``threads`` threads for the duration of the fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from probekit.evaluation.conditional import CrossFit, joint_estimator, joint_logistic, joint_ridge
from probekit.evaluation.fitting import fit_estimator, fit_logistic, fit_ridge_group
from probekit.probes.logistic_path import DEFAULT_CS
from probekit.probes.registry import Readout


@dataclass
class FitJob:
    """One task of a unit: its marginal fit (unless cached) and its joint models.

    Attributes
    ----------
    key
        The sweep's out-of-fold key ``(store, target, slot, readout, control)``.
    kind
        The target's kind (``binary`` targets take the logistic paths).
    X, y, keep, fold_of, groups
        Features and targets of the kept rows, their outer folds and families.
    cached
        Fold results read from the probe cache (then no marginal fit runs), or None.
    joint
        ``(baseline name, cross-fitted baseline)`` pairs to fit joint models against.
    ridge_group
        Jobs of a linear readout on a continuous target that share ``X`` share one group number
        and one decomposition (:func:`probekit.evaluation.fitting.fit_ridge_group`); else None.
    """

    key: tuple
    kind: str
    X: np.ndarray
    y: np.ndarray
    keep: np.ndarray
    fold_of: np.ndarray
    groups: np.ndarray
    cached: list[dict] | None = None
    joint: list[tuple[str, CrossFit]] = field(default_factory=list)
    ridge_group: int | None = None


@dataclass
class FitUnit:
    """A readout's jobs at one layer of one store (or of the label baselines at layer -1)."""

    readout: Readout
    layer: int
    params: dict[str, Any]
    n_folds: int
    seed: int
    threads: int
    jobs: list[FitJob] = field(default_factory=list)


@dataclass
class JobResult:
    """Fold results of one job: the marginal fit and each joint model by baseline name."""

    marginal: list[dict]
    joint: dict[str, list[dict]]


def run_unit(unit: FitUnit) -> list[JobResult]:
    """Fit every job of ``unit`` (in its order) with BLAS and torch pinned to ``unit.threads``.

    Parameters
    ----------
    unit
        The work (see :class:`FitUnit`).

    Returns
    -------
    list of JobResult
        One per job, in the unit's order.
    """
    from threadpoolctl import threadpool_limits

    previous = None
    if not unit.readout.fast:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(unit.threads)
    try:
        with threadpool_limits(limits=unit.threads):
            return _fit_jobs(unit)
    finally:
        if previous is not None:
            import torch

            torch.set_num_threads(previous)


def _fit_jobs(unit: FitUnit) -> list[JobResult]:
    readout, params = unit.readout, unit.params
    fit_params = {k: v for k, v in params.items() if k not in ("alphas", "Cs")}
    grouped: dict[int, list[list[dict]]] = {}
    position: dict[int, int] = {}
    out = []
    for job in unit.jobs:
        binary = job.kind == "binary"
        if job.cached is not None:
            marginal = job.cached
        elif job.ridge_group is not None:
            if job.ridge_group not in grouped:
                members = [j for j in unit.jobs if j.ridge_group == job.ridge_group]
                grouped[job.ridge_group] = fit_ridge_group(job.X, [m.y for m in members], job.fold_of, unit.n_folds, params)
                position[job.ridge_group] = 0
            marginal = grouped[job.ridge_group][position[job.ridge_group]]
            position[job.ridge_group] += 1
        elif readout.fast:
            marginal = fit_logistic(job.X, job.y, job.fold_of, unit.n_folds, params)
        else:
            marginal = fit_estimator(readout, job.kind, job.X, job.y, job.fold_of, job.groups, unit.n_folds, fit_params, unit.seed)
        joint = {}
        for name, base in job.joint:
            if readout.fast and binary:
                joint[name] = joint_logistic(job.X, job.y, base, job.keep, job.fold_of, unit.n_folds, np.asarray(params.get("Cs", DEFAULT_CS), float))
            elif readout.fast:
                joint[name] = joint_ridge(job.X, job.y, base, job.keep, job.fold_of, unit.n_folds, params)
            else:
                joint[name] = joint_estimator(readout, job.X, job.y, base, job.keep, job.fold_of, job.groups, unit.n_folds, fit_params, unit.seed,
                                              binary=binary)
        out.append(JobResult(marginal, joint))
    return out
