"""The probe sweep: every store x layer x readout x target (x slot), with controls.

One layer of one store is in memory at a time. Outer folds are grouped by family and shared by
every store, layer, readout and target, so scores are paired for comparisons. Hyperparameters
are chosen by inner CV on training folds only; the best layer and the best readout are chosen
per outer fold by the inner-CV score, never by the test score.

The sweep is split by job: planning (time grids, tasks and their skip reasons, the features and
units of work) in :mod:`probekit.evaluation.planning`; fitting (the probe cache, running units on
an executor, recording out-of-fold predictions, the conditional joint models) here; scoring
(scores, selection by inner CV, selectivity, paired comparisons) in
:mod:`probekit.evaluation.selection`; out-of-fold predictions in :mod:`probekit.evaluation.oof`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from probekit.evaluation.cache import ProbeCache, ProbeKey
from probekit.evaluation.conditional import CrossFit, baseline_designs, cross_fit_baseline
from probekit.evaluation.executors import Executor
from probekit.evaluation.gains import GAIN_METRIC, gain_row, gain_terms, negligible_within_scenario
from probekit.evaluation.inputs import StoreInput
from probekit.evaluation.splits import family_folds
from probekit.evaluation.suite import Suite
from probekit.evaluation.targets import TargetData
from probekit.formats.run import store_role
from probekit.evaluation.units import FitJob, FitUnit, JobResult, run_unit
from probekit.metrics.regression import VARIANCE_FLOOR, negligible_variance
from probekit.metrics import contrast_bootstrap
from probekit.probes.registry import Readout
from probekit.evaluation.oof import OOF, assemble_oof
from probekit.evaluation.planning import SweepPlanning, TimeGrid, same_grid
from probekit.evaluation.selection import SweepScoring


@dataclass
class SweepResult:
    """Everything a run directory is written from."""

    rows: list[dict] = field(default_factory=list)
    selection: list[dict] = field(default_factory=list)
    comparisons: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    gains: list[dict] = field(default_factory=list)


class Sweep(SweepPlanning, SweepScoring):
    """Run a suite over stores.

    Parameters
    ----------
    inputs
        Opened, aligned stores (:func:`probekit.evaluation.inputs.open_inputs`).
    suite
        The parsed suite (targets, readouts, controls, parameters).
    cache
        Where fitted probes go (``probes/`` of the run directory).
    targets_explicit
        True when the user named the targets (absent labels are then errors, not skips).
    log
        Progress callback taking one line of text.
    threads
        BLAS and torch threads of each fit (in each worker when the fits run in parallel).
    """

    def __init__(self, inputs: list[StoreInput], suite: Suite, cache: ProbeCache, *, targets_explicit: bool = False, log: Callable[[str], None] | None = None, threads: int = 1) -> None:
        self.inputs = inputs
        self.threads = int(threads)
        self.suite = suite
        self.cache = cache
        self.log = log or (lambda line: None)
        self.show_progress = log is not None
        self.n_folds = suite.folds
        self.seed = suite.seed
        ref = inputs[0]
        clips = ref.store.clips()
        self.families = np.asarray(clips["family_id"])
        self.scenarios = np.asarray(clips["scenario"]) if "scenario" in clips else np.full(len(clips), "all")
        self.clip_fold = family_folds(self.families, self.n_folds, self.seed)
        self.result = SweepResult()
        self.grids = self._time_grids()
        self.grid_of: dict[str, TimeGrid] = {}
        for item in inputs:
            self.grid_of[item.label] = next(g for g in self.grids if g.source is item or same_grid(g, item))
        for grid in self.grids:
            self.grid_of[grid.name] = grid
            self.grid_of[f"{grid.name}:ceiling"] = grid
            grid.tasks = self._build_tasks(grid, targets_explicit)
        self.oof: dict[tuple, dict[int, OOF]] = defaultdict(dict)


    # -- fitting with the cache ----------------------------------------------------------------
    def _config(self, readout: str) -> str:
        # "grouped" stays in the hashed config so that probes cached by earlier versions are reused
        return ProbeCache.config_hash({"folds": self.n_folds, "seed": self.seed, "grouped": True, "params": self.suite.params.get(readout, {}), "readout": readout})

    def _cached(self, store_hash: str, layer: int, data: TargetData, readout: str, control: str) -> tuple[list[dict] | None, list[ProbeKey]]:
        """A job's cached fold results (None unless every fold is cached) and its folds' cache keys."""
        cfg = self._config(readout)
        keys = [ProbeKey(store_hash, layer, data.spec.name, data.slot, readout, control, f, cfg) for f in range(self.n_folds)]
        return self.cache.load_all(keys), keys

    @staticmethod
    def _fresh(keys: list[ProbeKey], results: list[dict], fold_of: np.ndarray) -> dict[ProbeKey, dict]:
        """A job's fitted folds by cache key (the fold of a result is that of its test samples)."""
        return {keys[int(fold_of[res["test"][0]])]: res for res in results if len(res["test"])}

    def _plan_unit(self, store_key: tuple[str, str], layer: int, readout: Readout, jobs: list[tuple[TargetData, str, np.ndarray, np.ndarray, np.ndarray]]) -> tuple[FitUnit, list]:
        """The unit of work of ``jobs`` = [(task, control, X, keep, y)] and each job's cache keys.

        Cached jobs and jobs fitted one by one come first, then the linear jobs that share one
        decomposition, group by group (the order the results are recorded in).
        """
        store_label, store_hash = store_key
        unit = FitUnit(readout, layer, self.suite.params.get(readout.name, {}), self.n_folds, self.seed, self.threads)
        single, grouped = [], []
        ridge_groups: dict[tuple, int] = {}
        for data, control, X, keep, y in jobs:
            fold_of = self._fold_of(data, keep)
            cached, keys = self._cached(store_hash, layer, data, readout.name, control)
            job = FitJob((store_label, data.spec.name, data.slot, readout.name, control), data.spec.kind, X, y, keep, fold_of,
                         self.families[data.clip[keep]], cached, self._joint_baselines(store_label, readout, data, control))
            if cached is None and readout.fast and data.spec.kind != "binary":
                signature = (id(X), len(keep), keep[:5].tobytes(), keep[-5:].tobytes())
                job.ridge_group = ridge_groups.setdefault(signature, len(ridge_groups))
                grouped.append((job, keys))
            else:
                single.append((job, keys))
        grouped.sort(key=lambda pair: pair[0].ridge_group)
        unit.jobs = [job for job, _ in single + grouped]
        return unit, [keys for _, keys in single + grouped]

    def _record(self, unit: FitUnit, keys: list[list[ProbeKey]], results: list[JobResult]) -> None:
        """Save the unit's fresh fits to the cache and keep every job's out-of-fold predictions.

        A unit is one (store, layer, readout), so its fresh fits cost one rewrite of that store
        and layer's cache file, written before anything else is recorded.
        """
        fresh: dict[ProbeKey, dict] = {}
        for job, job_keys, res in zip(unit.jobs, keys, results):
            if job.cached is None:
                fresh.update(self._fresh(job_keys, res.marginal, job.fold_of))
        self.cache.save(fresh)
        for job, res in zip(unit.jobs, results):
            self.oof[job.key][unit.layer] = assemble_oof(res.marginal, self.n_folds, job.fold_of, job.keep, job.kind == "binary")
            store, target, slot, readout, control = job.key
            joint_store = self._joint_store(store, control)
            for name, fold_results in res.joint.items():
                self.joint[(joint_store, target, slot, readout, name)][unit.layer] = assemble_oof(fold_results, self.n_folds, job.fold_of, job.keep, False)

    # -- conditional probing -------------------------------------------------------------------
    def _baselines(self, executor: Executor) -> None:
        """Cross-fit the nuisance (and, for object-token readouts, geometry) baselines per task, run by ``executor``."""
        self.crossfit: dict[tuple, CrossFit] = {}
        self.joint: dict[tuple, dict[int, OOF]] = defaultdict(dict)
        if "nuisance" not in self.suite.controls:
            return
        self.log("cross-fitting nuisance baselines (additive ridge, scenario x frame ridge, gradient boosting)")
        keys, problems = [], []
        for grid in self.grids:
            for data in grid.tasks:
                if data.spec.kind not in GAIN_METRIC:
                    continue
                fold = self._fold_of(data, np.arange(len(data.y)))
                wanted = [("nuisance", False)] + ([("geometry", True)] if "object" in self.suite.readouts and data.slot >= 0 else [])
                for name, with_geometry in wanted:
                    designs = baseline_designs(grid.labels, self.scenarios, data, with_geometry)
                    if designs is None:
                        continue
                    keys.append((grid.name, data.spec.name, data.slot, name))
                    problems.append((name, designs, data.y, data.spec.kind == "binary", fold, self.n_folds, self.seed))
        self.crossfit.update(zip(keys, executor.map(_cross_fit_task, problems)))

    def _joint_store(self, store: str, control: str) -> str:
        """Where a job's joint models are kept: the store, or ``<grid>:ceiling`` for the ceiling."""
        if control == "ceiling" and store in {g.name for g in self.grids}:
            return f"{self.grid_of[store].name}:ceiling"
        return store

    def _joint_baselines(self, store: str, readout: Readout, data: TargetData, control: str) -> list[tuple[str, CrossFit]]:
        """The baselines to fit joint models [baseline + latents] against for one job."""
        is_ceiling = control == "ceiling" and store in {g.name for g in self.grids}
        if not (is_ceiling or (control == "none" and store in self._store_labels())) or data.spec.kind not in GAIN_METRIC:
            return []
        grid = self.grid_of[store].name
        names = ["nuisance"] + (["geometry"] if readout.features == "object" else [])
        out = []
        for name in names:
            base = self.crossfit.get((grid, data.spec.name, data.slot, name))
            if base is None:
                continue
            out.append((name, base))
        return out

    def _conditional(self) -> None:
        """Gains of every joint model over its baseline, and differences of gains between stores."""
        self.log("conditional gains over the label baselines")
        gains: dict[tuple, tuple[dict, list]] = {}
        for (store, target, slot, readout, name), by_layer in sorted(self.joint.items()):
            data = self._task(store, target, slot)
            oof, chosen = self._selected(by_layer)
            base = self.crossfit[(self.grid_of[store].name, target, slot, name)]
            y = data.y[oof.idx]
            groups = self.families[data.clip[oof.idx]]
            scen = self.scenarios[data.clip[oof.idx]]
            kind = data.spec.kind
            row = {"store": store, "role": self._role(store), "versus": "", "target": target, "slot": int(slot), "readout": readout,
                   "baseline": name, "layers": json.dumps([int(c) for c in chosen]),
                   "baseline_models": json.dumps(base.chosen), "note": ""}
            flat = self._flat_target(store, data)
            if flat:
                row.update({"metric": GAIN_METRIC[kind], "gain": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": int(len(y)),
                            "n_families": int(len(np.unique(groups))), "note": f"n/a: {flat}"})
            else:
                row.update(gain_row(kind, y, oof.pred, base.outer[oof.idx], oof.fold, groups, scen, n_boot=self.suite.n_boot, seed=self.seed))
            self.result.gains.append(row)
            gains[(store, target, slot, readout, name)] = (row, gain_terms(kind, y, oof.pred, base.outer[oof.idx], groups))
        stores = [item.label for item in self.inputs]
        for (store, target, slot, readout, name), (row, terms) in gains.items():
            if store not in stores:
                continue
            ceiling = f"{self.grid_of[store].name}:ceiling"
            for other in stores[stores.index(store) + 1 :] + [ceiling]:
                found, other_readout = gains.get((other, target, slot, readout, name)), readout
                if found is None and other == ceiling:  # the ceiling reads its ground truth with its own readouts
                    other_readout = next((r for r in self.suite.ceiling_readouts if (other, target, slot, r, name) in gains), "")
                    found = gains.get((other, target, slot, other_readout, name))
                if found is None or row["note"] or found[0]["note"]:
                    continue
                other_terms = [(-w, m, yt, yp, g) for w, m, yt, yp, g in found[1]]
                delta, low, high = contrast_bootstrap(terms + other_terms, n_boot=self.suite.n_boot, seed=self.seed)
                note = f"gain of {store} minus gain of {other}" + (f" ({other_readout} readout)" if other_readout != readout else "")
                self.result.gains.append({**{k: row[k] for k in ("store", "role", "target", "slot", "readout", "baseline", "metric")},
                                          "versus": other, "gain": delta, "ci_low": low, "ci_high": high,
                                          "n": min(row["n"], found[0]["n"]), "n_families": row["n_families"],
                                          "families_per_scenario": row["families_per_scenario"], "note": note})

    def _flat_target(self, store: str, data: TargetData) -> str:
        """Why a target has no meaningful gain ('' when it has one).

        A target that barely varies within scenarios is fixed by the scenario; an object slot
        whose target varies by less than :data:`~probekit.metrics.regression.VARIANCE_FLOOR` of
        the target's variance over all object slots (a base box that never moves) is, for a
        probe, a constant: R² over it is a ratio of noise to noise.
        """
        if negligible_within_scenario(data.y, self.scenarios[data.clip]):
            return "the target barely varies within scenarios"
        if data.slot < 0 or data.spec.kind != "continuous":
            return ""
        slots = [t.y for t in self.grid_of[store].tasks if t.spec.name == data.spec.name and t.slot >= 0]
        pooled = np.concatenate([np.asarray(y, dtype=np.float64).reshape(len(y), -1) for y in slots])
        reference = float(pooled.var(axis=0).sum())
        if negligible_variance(data.y, reference, VARIANCE_FLOOR):
            own = float(np.asarray(data.y, dtype=np.float64).reshape(len(data.y), -1).var(axis=0).sum())
            share = own / reference if reference > 0 else 0.0
            return (f"object slot {data.slot} barely varies ({100 * share:.2g}% of the target's variance over all "
                    f"object slots, below {100 * VARIANCE_FLOOR:g}%)")
        return ""

    def _role(self, store: str) -> str:
        """What a store stands for: encoder, random_twin, pixels, shuffled, planted (or ceiling)."""
        if store.endswith(":ceiling"):
            return "ceiling"
        for item in self.inputs:
            if item.label == store:
                return store_role(item.control, str(item.attrs.get("encoder", "")), item.label, str(item.attrs.get("weights", "")))
        return ""

    # -- the sweep -----------------------------------------------------------------------------
    def run(self, layers_override: dict[str, Any] | None = None, executor: Executor | None = None) -> SweepResult:
        """Fit everything, then score, select and compare.

        Parameters
        ----------
        layers_override
            Per readout, the layers it runs on (``"all"``, ``"last"`` or a list).
        executor
            Where the fits run (:mod:`probekit.evaluation.executors`); default this process.
            Every executor gives the same results: units are pure and recorded in order.
        """
        executor = executor or Executor()
        self._baselines(executor)
        batch: list[tuple[FitUnit, list]] = []
        for planned in self._units(layers_override or {}, set(self.suite.controls)):
            batch.append(planned)
            if len(batch) >= executor.batch:
                self._run_batch(executor, batch)
                batch = []
        if batch:
            self._run_batch(executor, batch)
        self._score_all(executor)
        self._select()
        self._compare()
        self._conditional()
        return self.result

    def _run_batch(self, executor: Executor, batch: list[tuple[FitUnit, list]]) -> None:
        results = executor.map(run_unit, [unit for unit, _ in batch])
        for (unit, keys), res in zip(batch, results):
            self._record(unit, keys, res)


def _cross_fit_task(problem: tuple) -> CrossFit:
    """:func:`cross_fit_baseline` of one ``(name, designs, y, binary, fold, n_folds, seed)`` problem (run by an executor)."""
    return cross_fit_baseline(*problem)
