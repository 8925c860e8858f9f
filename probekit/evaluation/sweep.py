"""The probe sweep: every store x layer x readout x target (x slot), with controls.

One layer of one store is in memory at a time. Outer folds are grouped by family and shared by
every store, layer, readout and target, so scores are paired for comparisons. Hyperparameters
are chosen by inner CV on training folds only; the best layer and the best readout are chosen
per outer fold by the inner-CV score, never by the test score.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from probekit.errors import BadOptionError
from probekit.evaluation.cache import ProbeCache
from probekit.evaluation.controls import LABEL_BASELINES, control_labels
from probekit.evaluation.conditional import CrossFit, baseline_designs, cross_fit_baseline
from probekit.evaluation.executors import Executor
from probekit.evaluation.gains import GAIN_METRIC, gain_row, gain_terms, negligible_within_scenario
from probekit.evaluation.inputs import StoreInput
from probekit.evaluation.scoring import HIGHER_IS_BETTER, METRICS, compute, metric_inputs, score_rows
from probekit.evaluation.splits import family_folds
from probekit.evaluation.suite import Suite
from probekit.evaluation.targets import CATALOG, TargetData, build_target, n_slots, required_labels
from probekit.formats.run import LABEL_STORE, store_role
from probekit.evaluation.units import FitJob, FitUnit, JobResult, run_unit
from probekit.extraction.pooling import grid_pool
from probekit.formats.store import TOKEN_FRAMES
from probekit.metrics import contrast_bootstrap, paired_bootstrap
from probekit.probes.registry import Readout, get_readout



@dataclass
class OOF:
    """Out-of-fold predictions of one (store, layer, target, slot, readout, control)."""

    idx: np.ndarray  # indices into the task's samples
    pred: np.ndarray
    score: np.ndarray | None
    fold: np.ndarray
    inner: np.ndarray  # (n_folds,) inner-CV score per outer fold (NaN if fold missing)


@dataclass
class TimeGrid:
    """Stores that share one time grid (token steps and their frame spans) and its labels.

    Each store's labels are aligned to its own token steps; stores whose steps cover the same
    frames share targets (paired sample by sample), others get their own targets and label
    baselines (``labels`` for the first grid, ``labels@<steps>`` for the others).
    """

    name: str
    token_frames: np.ndarray
    labels: Any
    source: Any  # the StoreInput whose labels the grid reads
    tasks: list[TargetData] = field(default_factory=list)

    @property
    def hash(self) -> str:
        return "labels-" + self.source.hash


@dataclass
class SweepResult:
    """Everything a run directory is written from."""

    rows: list[dict] = field(default_factory=list)
    selection: list[dict] = field(default_factory=list)
    comparisons: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    gains: list[dict] = field(default_factory=list)


def _assemble(results: list[dict], n_folds: int, fold_of: np.ndarray, keep: np.ndarray, binary: bool) -> OOF:
    """Concatenate fold results (test rows index into ``keep``)."""
    inner = np.full(n_folds, np.nan)
    idx, pred, score, folds = [], [], [], []
    for res in results:
        test = np.asarray(res["test"])
        if len(test) == 0:
            continue
        f = int(fold_of[test[0]])
        inner[f] = res["inner"]
        idx.append(keep[test])
        pred.append(np.asarray(res["pred"]).reshape(len(test), -1))
        folds.append(np.full(len(test), f))
        if binary:
            score.append(np.asarray(res["score"]).ravel())
    if not idx:
        return OOF(np.zeros(0, int), np.zeros((0, 1)), None, np.zeros(0, int), inner)
    order = np.argsort(np.concatenate(idx), kind="stable")
    return OOF(
        np.concatenate(idx)[order],
        np.concatenate(pred)[order],
        np.concatenate(score)[order] if binary else None,
        np.concatenate(folds)[order],
        inner,
    )


class Sweep:
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
            self.grid_of[item.label] = next(g for g in self.grids if g.source is item or _same_grid(g, item))
        for grid in self.grids:
            self.grid_of[grid.name] = grid
            self.grid_of[f"{grid.name}:ceiling"] = grid
            grid.tasks = self._build_tasks(grid, targets_explicit)
        self.oof: dict[tuple, dict[int, OOF]] = defaultdict(dict)

    @property
    def labels(self):
        """Labels of the first store's time grid."""
        return self.grids[0].labels

    @property
    def tasks(self) -> list[TargetData]:
        """Targets of the first store's time grid."""
        return self.grids[0].tasks

    def _time_grids(self) -> list[TimeGrid]:
        grids: list[TimeGrid] = []
        for item in self.inputs:
            if any(_same_grid(g, item) for g in grids):
                continue
            frames = item.store.dataset(TOKEN_FRAMES)[()]
            name = LABEL_STORE if not grids else f"{LABEL_STORE}@{len(frames)}steps"
            while any(g.name == name for g in grids):
                name += "'"
            grids.append(TimeGrid(name, frames, item.labels, item))
        return grids

    # -- tasks ---------------------------------------------------------------------------------
    def _build_tasks(self, grid: TimeGrid, explicit: bool) -> list[TargetData]:
        """Targets of one time grid, built from the labels aligned to its token steps."""
        tasks = []
        labels = grid.labels
        for name in self.suite.targets:
            spec = CATALOG[name]
            missing = [lab for lab in required_labels(spec) if not labels.has(lab)]
            if missing:
                if explicit:
                    raise BadOptionError(
                        f"--targets {name}: needs label {missing[0]!r}, absent from {grid.source.path}; labels present: {', '.join(sorted(labels.names))}"
                    )
                self._skip(name, -1, f"label {missing[0]} absent from the store", grid)
                continue
            slots = [-1] if spec.level in ("scene", "clip") else range(n_slots(labels))
            for slot in slots:
                data = build_target(labels, spec, slot, grid.token_frames)
                reason = self._unusable(data)
                if reason:
                    self._skip(name, slot, reason, grid)
                    continue
                tasks.append(data)
        if not tasks:
            raise BadOptionError("--targets: no usable target in these stores; see the labels they hold with `probekit info`")
        return tasks

    def _unusable(self, data: TargetData) -> str | None:
        if len(data.y) == 0:
            return "no samples (slot never exists or subset empty)"
        if np.ptp(data.y, axis=0).max() == 0:
            return "constant target"
        n_fam = len(np.unique(self.families[data.clip]))
        if n_fam < self.n_folds:
            return f"only {n_fam} families have samples, fewer than {self.n_folds} folds"
        if data.spec.kind == "binary":
            pos = data.y.ravel() > 0.5
            for f in range(self.n_folds):
                train = self.clip_fold[data.clip] != f
                if pos[train].all() or (~pos[train]).all():
                    return f"one class only in the training folds of fold {f}"
        return None

    def _skip_control(self, control: str, grid: TimeGrid, reason: str) -> None:
        where = "" if len(self.grids) == 1 else f" (stores on the {len(grid.token_frames)}-step grid)"
        entry = {"target": "", "slot": -1, "control": control, "note": f"skipped control {control}: {reason}{where}"}
        if entry not in self.result.skipped:
            self.result.skipped.append(entry)
            self.log(entry["note"])

    def _skip(self, target: str, slot: int, reason: str, grid: TimeGrid | None = None) -> None:
        where = "" if grid is None or len(self.grids) == 1 else f" (stores on the {len(grid.token_frames)}-step grid)"
        entry = {"target": target, "slot": slot, "note": f"skipped: {reason}{where}"}
        if entry not in self.result.skipped:
            self.result.skipped.append(entry)
            self.log(f"skip {target} slot {slot}: {reason}{where}")

    # -- feature gathering -----------------------------------------------------------------------
    @staticmethod
    def _gather(feats: dict[str, np.ndarray], readout: Readout, data: TargetData) -> tuple[np.ndarray | None, np.ndarray]:
        kind = readout.features
        per_clip = bool((data.step < 0).all())
        if kind == "time":
            X = feats["mean"][data.clip] if per_clip else feats["time"][data.clip, data.step]
        elif kind == "object":
            if data.slot < 0:
                return None, np.zeros(0, int)
            obj = feats["object"]
            if per_clip:
                with np.errstate(invalid="ignore"), _quiet():
                    X = np.nanmean(obj[data.clip, :, data.slot], axis=1)
            else:
                X = obj[data.clip, data.step, data.slot]
        elif kind == "grid":
            X = feats["grid"][data.clip].mean(axis=1) if per_clip else feats["grid"][data.clip, data.step]
        elif kind == "tokens":
            if per_clip:
                return None, np.zeros(0, int)
            tok = feats["tokens"][data.clip, data.step]
            X = tok.reshape(len(tok), -1, tok.shape[-1])
        else:  # pragma: no cover - registry guards kinds
            raise BadOptionError(f"readout {readout.name}: unknown feature kind {kind}")
        X = np.asarray(X, dtype=np.float64 if readout.fast else np.float32)
        finite = np.isfinite(X.reshape(len(X), -1)).all(axis=1)
        keep = np.flatnonzero(finite)
        return X[keep], keep

    def _readout_layers(self, name: str, layers: list[int], override: dict[str, Any]) -> list[int]:
        spec = override.get(name, self.suite.layers.get(name, "all"))
        if spec == "all":
            return layers
        if spec == "last":
            return layers[-1:]
        chosen = [int(x) for x in (spec if isinstance(spec, list) else [spec])]
        bad = [x for x in chosen if x not in layers]
        if bad:
            raise BadOptionError(f"--layers: layer {bad[0]} of readout {name} is not stored; stored layers: {layers}")
        return chosen

    # -- fitting with the cache ----------------------------------------------------------------
    def _config(self, readout: str) -> str:
        # "grouped" stays in the hashed config so that probes cached by earlier versions are reused
        return ProbeCache.config_hash({"folds": self.n_folds, "seed": self.seed, "grouped": True, "params": self.suite.params.get(readout, {}), "readout": readout})

    def _cached(self, store_hash: str, layer: int, data: TargetData, readout: str, control: str) -> tuple[list[dict] | None, list]:
        cfg = self._config(readout)
        paths = [self.cache.path(store_hash, layer, data.spec.name, data.slot, readout, control, f, cfg) for f in range(self.n_folds)]
        loaded = [self.cache.load(p) for p in paths]
        return (loaded if all(r is not None for r in loaded) else None), paths

    def _save(self, paths: list, results: list[dict], fold_of: np.ndarray) -> None:
        for res in results:
            if len(res["test"]):
                self.cache.save(paths[int(fold_of[res["test"][0]])], res)

    def _plan_unit(self, store_key: tuple[str, str], layer: int, readout: Readout, jobs: list[tuple[TargetData, str, np.ndarray, np.ndarray, np.ndarray]]) -> tuple[FitUnit, list]:
        """The unit of work of ``jobs`` = [(task, control, X, keep, y)] and each job's cache paths.

        Cached jobs and jobs fitted one by one come first, then the linear jobs that share one
        decomposition, group by group (the order the results are recorded in).
        """
        store_label, store_hash = store_key
        unit = FitUnit(readout, layer, self.suite.params.get(readout.name, {}), self.n_folds, self.seed, self.threads)
        single, grouped = [], []
        ridge_groups: dict[tuple, int] = {}
        for data, control, X, keep, y in jobs:
            fold_of = self._fold_of(data, keep)
            cached, paths = self._cached(store_hash, layer, data, readout.name, control)
            job = FitJob((store_label, data.spec.name, data.slot, readout.name, control), data.spec.kind, X, y, keep, fold_of,
                         self.families[data.clip[keep]], cached, self._joint_baselines(store_label, readout, data, control))
            if cached is None and readout.fast and data.spec.kind != "binary":
                signature = (id(X), len(keep), keep[:5].tobytes(), keep[-5:].tobytes())
                job.ridge_group = ridge_groups.setdefault(signature, len(ridge_groups))
                grouped.append((job, paths))
            else:
                single.append((job, paths))
        grouped.sort(key=lambda pair: pair[0].ridge_group)
        unit.jobs = [job for job, _ in single + grouped]
        return unit, [paths for _, paths in single + grouped]

    def _record(self, unit: FitUnit, paths: list, results: list[JobResult]) -> None:
        """Save fresh fits to the cache and keep every job's out-of-fold predictions."""
        for job, job_paths, res in zip(unit.jobs, paths, results):
            if job.cached is None:
                self._save(job_paths, res.marginal, job.fold_of)
            self.oof[job.key][unit.layer] = _assemble(res.marginal, self.n_folds, job.fold_of, job.keep, job.kind == "binary")
            store, target, slot, readout, control = job.key
            joint_store = self._joint_store(store, control)
            for name, fold_results in res.joint.items():
                self.joint[(joint_store, target, slot, readout, name)][unit.layer] = _assemble(fold_results, self.n_folds, job.fold_of, job.keep, False)

    # -- conditional probing -------------------------------------------------------------------
    def _baselines(self) -> None:
        """Cross-fit the nuisance (and, for object-token readouts, geometry) baselines per task."""
        self.crossfit: dict[tuple, CrossFit] = {}
        self.joint: dict[tuple, dict[int, OOF]] = defaultdict(dict)
        if "nuisance" not in self.suite.controls:
            return
        self.log("cross-fitting nuisance baselines (additive ridge, scenario x frame ridge, gradient boosting)")
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
                    self.crossfit[(grid.name, data.spec.name, data.slot, name)] = cross_fit_baseline(
                        name, designs, data.y, data.spec.kind == "binary", fold, self.n_folds, self.seed)

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
            if not readout.fast and data.spec.kind == "binary":
                self._skip_once(self._joint_store(store, control), data, readout.name,
                                "no joint model with a baseline offset for this readout on binary targets; its gain is not reported")
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
            if negligible_within_scenario(data.y, self.scenarios[data.clip]):
                row.update({"metric": GAIN_METRIC[kind], "gain": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": int(len(y)),
                            "n_families": int(len(np.unique(groups))), "note": "n/a: the target barely varies within scenarios"})
            else:
                row.update(gain_row(kind, y, oof.pred, base.outer[oof.idx], oof.fold, groups, scen, n_boot=self.suite.n_boot, seed=self.seed))
            self.result.gains.append(row)
            gains[(store, target, slot, readout, name)] = (row, gain_terms(kind, y, oof.pred, base.outer[oof.idx], groups))
        stores = [item.label for item in self.inputs]
        for (store, target, slot, readout, name), (row, terms) in gains.items():
            if store not in stores:
                continue
            for other in stores[stores.index(store) + 1 :] + [f"{self.grid_of[store].name}:ceiling"]:
                found = gains.get((other, target, slot, readout, name))
                if found is None or row["note"] or found[0]["note"]:
                    continue
                other_terms = [(-w, m, yt, yp, g) for w, m, yt, yp, g in found[1]]
                delta, low, high = contrast_bootstrap(terms + other_terms, n_boot=self.suite.n_boot, seed=self.seed)
                self.result.gains.append({**{k: row[k] for k in ("store", "role", "target", "slot", "readout", "baseline", "metric")},
                                          "versus": other, "gain": delta, "ci_low": low, "ci_high": high,
                                          "n": min(row["n"], found[0]["n"]), "n_families": row["n_families"],
                                          "families_per_scenario": row["families_per_scenario"],
                                          "note": f"gain of {store} minus gain of {other}"})

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
        self._baselines()
        batch: list[tuple[FitUnit, list]] = []
        for planned in self._units(layers_override or {}, set(self.suite.controls)):
            batch.append(planned)
            if len(batch) >= executor.batch:
                self._run_batch(executor, batch)
                batch = []
        if batch:
            self._run_batch(executor, batch)
        self._score_all()
        self._select()
        self._compare()
        self._conditional()
        return self.result

    def _run_batch(self, executor: Executor, batch: list[tuple[FitUnit, list]]) -> None:
        results = executor.map(run_unit, [unit for unit, _ in batch])
        for (unit, paths), res in zip(batch, results):
            self._record(unit, paths, res)

    def _units(self, override: dict[str, Any], controls: set[str]) -> Iterator[tuple[FitUnit, list]]:
        """Every unit of work in the serial order: label baselines, then store by store, layer by layer."""
        for grid in self.grids:
            yield from self._grid_controls(grid, controls)
        from probekit.progress import progress

        plans = {item.label: {name: set(self._readout_layers(name, item.store.layers, override)) for name in self.suite.readouts}
                 for item in self.inputs}
        n_layers = sum(1 for item in self.inputs for layer in item.store.layers
                       if any(layer in layers for layers in plans[item.label].values()))
        bar = progress(total=n_layers, desc="probe", unit="store x layer", enabled=self.show_progress)
        for item in self.inputs:
            grid = self.grid_of[item.label]
            layers = item.store.layers
            plan = plans[item.label]
            for layer in layers:
                active = [get_readout(name) for name in self.suite.readouts if layer in plan[name]]
                if not active:
                    continue
                bar.set_postfix_str(f"{item.label} layer {layer} ({', '.join(r.name for r in active)})")
                feats = self._load_layer(item, layer, {r.features for r in active})
                for readout in active:
                    if readout.features not in feats:
                        for data in grid.tasks:
                            self._skip_once(item.label, data, readout.name, f"layer {layer} has no {readout.features!r} features")
                        continue
                    jobs = []
                    gathered: dict[tuple, tuple] = {}
                    for data in grid.tasks:
                        rows_key = (data.clip.tobytes(), data.step.tobytes(), data.slot if readout.features == "object" else None)
                        if rows_key not in gathered:
                            gathered[rows_key] = self._gather(feats, readout, data)
                        X, keep = gathered[rows_key]
                        if X is None:
                            continue
                        if len(keep) < 2 or len(np.unique(self.families[data.clip[keep]])) < self.n_folds:
                            self._skip_once(item.label, data, readout.name, "too few samples with these features")
                            continue
                        y = data.y[keep]
                        jobs.append((data, "none", X, keep, y))
                        binary_ok = data.spec.kind != "binary" or self.suite.control_task_binary
                        if "control_task" in controls and readout.fast and data.spec.kind != "rotation" and binary_ok:
                            yc = control_labels(grid.labels, self.scenarios, data, seed=self.seed)[keep]
                            if np.ptp(yc) > 0 and (data.spec.kind != "binary" or self._both_classes(yc, data.clip[keep])):
                                jobs.append((data, "control_task", X, keep, yc))
                    if jobs:
                        yield self._plan_unit((item.label, item.hash), layer, readout, jobs)
                del feats
                bar.update(1)
        bar.close()

    def _fold_of(self, data: TargetData, keep: np.ndarray) -> np.ndarray:
        """Outer fold of each kept sample: its clip's (family's) fold."""
        return self.clip_fold[data.clip[keep]]

    def _both_classes(self, y: np.ndarray, clips: np.ndarray) -> bool:
        fold = self.clip_fold[clips]
        return all(0 < y[fold != f].mean() < 1 for f in range(self.n_folds))

    def _skip_once(self, store: str, data: TargetData, readout: str, reason: str) -> None:
        key = (store, data.spec.name, data.slot, readout)
        if key not in getattr(self, "_skipped_keys", set()):
            self._skipped_keys = getattr(self, "_skipped_keys", set()) | {key}
            self.result.skipped.append({"store": store, "target": data.spec.name, "slot": data.slot, "readout": readout, "note": f"skipped: {reason}"})

    def _load_layer(self, item: StoreInput, layer: int, kinds: set[str]) -> dict[str, np.ndarray]:
        stored = set(item.store.feature_kinds(layer))
        want = set(kinds) | {"time"}
        if any((d.step < 0).all() for d in self.grid_of[item.label].tasks):
            want.add("mean")
        feats = {}
        ids = item.store.clips()["clip_id"]
        for kind in sorted(want & stored):
            X = item.features(layer, kind)
            bad = ~np.isfinite(X) if kind != "object" else np.isinf(X)
            if bad.any():
                clip = int(np.argwhere(bad)[0][0])
                raise BadOptionError(
                    f"{item.path}: layer {layer} {kind!r} features hold NaN or inf values (first in clip {ids.iloc[clip] if item.order is None else ids.iloc[item.order[clip]]!r}); re-extract the store (e.g. with --dtype float32)"
                )
            feats[kind] = X
        if "mean" not in feats and "time" in feats:
            feats["mean"] = feats["time"].mean(axis=1)
        if "grid" in want and "grid" not in feats and "tokens" in stored:
            feats["grid"] = grid_pool(feats["tokens"] if "tokens" in feats else item.features(layer, "tokens"))
        return feats

    def _grid_controls(self, grid: TimeGrid, controls: set[str]) -> Iterator[tuple[FitUnit, list]]:
        """Units of the nuisance, geometry and ceiling baselines: features from the labels alone."""
        labels = grid.labels
        builders = []
        for name, baseline in LABEL_BASELINES.items():
            if name not in controls:
                continue
            missing = baseline.missing(labels)
            if missing:
                self._skip_control(name, grid, f"the stores have no {', '.join('labels/' + m for m in missing)}")
                continue
            for readout_name in baseline.readouts(self.suite):
                builders.append((name, readout_name, lambda d, b=baseline: b.features(labels, self.scenarios, d)))
        if not builders:
            return
        self.log(f"controls from labels ({grid.name}): " + ", ".join(sorted({b[0] for b in builders})))
        for control, readout_name, build in builders:
            readout = get_readout(readout_name)
            jobs = []
            for data in grid.tasks:
                X = build(data)
                if X is None:
                    continue
                keep = np.arange(len(X))
                jobs.append((data, control, X, keep, data.y))
            # the ridge group signature uses id(X) so each task is fitted on its own features
            if jobs:
                yield self._plan_unit((grid.name, grid.hash), -1, readout, jobs)

    # -- scoring, selection, comparisons ---------------------------------------------------------
    def _store_labels(self) -> set[str]:
        return {item.label for item in self.inputs}

    def _store_meta(self, label: str) -> dict[str, Any]:
        for item in self.inputs:
            if item.label == label:
                return {"store_hash": item.hash, "encoder": str(item.attrs.get("encoder", "")), "weights": str(item.attrs.get("weights", "")), "store_control": item.control}
        return {"store_hash": "", "encoder": "", "weights": "", "store_control": "none"}

    def _task(self, store: str, name: str, slot: int) -> TargetData:
        """The target ``name`` at ``slot`` on the time grid of ``store`` (a store or label pseudo-store)."""
        for data in self.grid_of[store].tasks:
            if data.spec.name == name and data.slot == slot:
                return data
        raise KeyError((name, slot))

    def _score_oof(self, data: TargetData, oof: OOF, by_scenario: bool = True, y_all: np.ndarray | None = None) -> list[dict]:
        y = (data.y if y_all is None else y_all)[oof.idx]
        sym = None if data.symmetry is None else data.symmetry[oof.idx]
        half = None if data.half_extents is None else data.half_extents[oof.idx]
        return score_rows(
            data.spec.kind, y, oof.pred, oof.score, oof.fold, self.families[data.clip[oof.idx]], self.scenarios[data.clip[oof.idx]],
            n_boot=self.suite.n_boot, seed=self.seed, symmetry=sym, half=half, by_scenario=by_scenario,
        )

    def _score_all(self) -> None:
        self.log("scoring")
        for (store, target, slot, readout, control), by_layer in self.oof.items():
            data = self._task(store, target, slot)
            meta = self._store_meta(store)
            row_control = control if control != "none" else meta["store_control"]
            for layer, oof in sorted(by_layer.items()):
                if len(oof.idx) == 0:
                    continue
                base = {
                    "store": store, "store_hash": meta["store_hash"], "encoder": meta["encoder"], "weights": meta["weights"],
                    "layer": int(layer), "target": target, "slot": int(slot), "readout": readout, "control": row_control,
                    "unit": "deg" if data.spec.kind == "rotation" else ("1" if data.spec.kind == "binary" else data.spec.unit), "note": "",
                }
                y_all = control_labels(self.grid_of[store].labels, self.scenarios, data, seed=self.seed) if control == "control_task" else None
                rows = self._score_oof(data, oof, y_all=y_all)
                for row in rows:
                    unit = data.spec.unit if row["metric"] == "mae" else ("deg" if row["metric"] == "geodesic_deg" else "1")
                    self.result.rows.append({**base, **row, "unit": unit})
                if control == "control_task":
                    task = by_layer_task = self.oof.get((store, target, slot, readout, "none"), {}).get(layer)
                    if task is not None:
                        self.result.rows.append({**base, **self._selectivity(store, data, task, oof), "unit": "1"})
                    del by_layer_task
        for skip in self.result.skipped:
            self.result.rows.append(
                {
                    "store": skip.get("store", ""), "store_hash": "", "encoder": "", "weights": "", "layer": -1, "target": skip["target"],
                    "slot": int(skip["slot"]), "readout": skip.get("readout", ""), "control": "none", "scenario": "all", "metric": "",
                    "score": np.nan, "ci_low": np.nan, "ci_high": np.nan, "fold_scores": "[]", "n": 0, "n_families": 0, "unit": "", "note": skip["note"],
                }
            )

    def _paired(self, data: TargetData, a: OOF, b: OOF) -> tuple[str, float, float, float, int]:
        """Paired bootstrap of the primary metric on the samples both predictions cover."""
        common, ia, ib = np.intersect1d(a.idx, b.idx, return_indices=True)
        metric = METRICS[data.spec.kind][0]
        y = data.y[common]
        sym = None if data.symmetry is None else data.symmetry[common]
        half = None if data.half_extents is None else data.half_extents[common]
        groups = self.families[data.clip[common]]
        if metric == "geodesic_deg":
            from probekit.metrics import geodesic_deg

            ea, eb = geodesic_deg(y, a.pred[ia], sym, half), geodesic_deg(y, b.pred[ib], sym, half)
            d, lo, hi = paired_bootstrap("mean", np.zeros_like(ea), ea, eb, groups, n_boot=self.suite.n_boot, seed=self.seed)
        else:
            d, lo, hi = paired_bootstrap(metric, y, a.pred[ia], b.pred[ib], groups, n_boot=self.suite.n_boot, seed=self.seed)
        return metric, d, lo, hi, len(common)

    def _paired_by_family(self, data_a: TargetData, a: OOF, data_b: TargetData, b: OOF) -> tuple[str, float, float, float, int]:
        """Stores on different time grids: each scored on its own samples, families resampled jointly.

        Clip-level targets hold the same samples on every grid and are paired sample by sample.
        """
        if (data_a.step < 0).all() and (data_b.step < 0).all() and np.array_equal(data_a.clip, data_b.clip):
            return self._paired(data_a, a, b)
        metric = METRICS[data_a.spec.kind][0]
        terms = []
        for sign, data, oof in ((1.0, data_a, a), (-1.0, data_b, b)):
            y = data.y[oof.idx]
            if metric == "geodesic_deg":
                from probekit.metrics import geodesic_deg

                sym = None if data.symmetry is None else data.symmetry[oof.idx]
                half = None if data.half_extents is None else data.half_extents[oof.idx]
                terms.append((sign, "mean", np.zeros(len(y)), geodesic_deg(y, oof.pred, sym, half), self.families[data.clip[oof.idx]]))
            else:
                terms.append((sign, metric, y, oof.pred, self.families[data.clip[oof.idx]]))
        d, lo, hi = contrast_bootstrap(terms, n_boot=self.suite.n_boot, seed=self.seed)
        return metric, d, lo, hi, int(min(len(a.idx), len(b.idx)))

    def _selectivity(self, store: str, data: TargetData, task: OOF, control: OOF) -> dict:
        """Selectivity = task score - control-task score (paired over families)."""
        common, it, ic = np.intersect1d(task.idx, control.idx, return_indices=True)
        metric = METRICS[data.spec.kind][0]
        yc = control_labels(self.grid_of[store].labels, self.scenarios, data, seed=self.seed)
        groups = self.families[data.clip[common]]
        value, lo, hi = paired_bootstrap(metric, data.y[common], task.pred[it], control.pred[ic], groups, n_boot=self.suite.n_boot, seed=self.seed, y_true_b=yc[common])
        n_fam = len(np.unique(groups))
        return {
            "scenario": "all", "metric": "selectivity", "score": value, "ci_low": float(lo), "ci_high": float(hi),
            "fold_scores": "[]", "n": int(len(common)), "n_families": int(n_fam), "note": f"{metric}: task - control task",
        }

    def _selected(self, by_layer: dict[int, OOF], higher: bool = True) -> tuple[OOF, list[int]]:
        """Combine, per outer fold, the layer with the best inner-CV score."""
        layers = sorted(by_layer)
        chosen: list[int] = []
        idx, pred, score, folds, inner = [], [], [], [], np.full(self.n_folds, np.nan)
        for f in range(self.n_folds):
            scores = np.array([by_layer[layer].inner[f] for layer in layers])
            if not np.isfinite(scores).any():
                continue
            best = layers[int(np.nanargmax(scores))]
            chosen.append(best)
            inner[f] = np.nanmax(scores)
            oof = by_layer[best]
            m = oof.fold == f
            idx.append(oof.idx[m])
            pred.append(oof.pred[m])
            folds.append(oof.fold[m])
            if oof.score is not None:
                score.append(oof.score[m])
        order = np.argsort(np.concatenate(idx), kind="stable")
        return (
            OOF(np.concatenate(idx)[order], np.concatenate(pred)[order], np.concatenate(score)[order] if score else None, np.concatenate(folds)[order], inner),
            chosen,
        )

    def _select(self) -> None:
        self.log("selecting layers and readouts by inner CV")
        self.selected: dict[tuple, tuple[OOF, list[int]]] = {}
        self.readout_choice: dict[tuple, tuple[OOF, list[str]]] = {}
        per_task: dict[tuple, dict[str, OOF]] = defaultdict(dict)
        for (store, target, slot, readout, control), by_layer in self.oof.items():
            if control != "none" or store not in self._store_labels():
                continue
            data = self._task(store, target, slot)
            oof, chosen = self._selected(by_layer)
            self.selected[(store, target, slot, readout)] = (oof, chosen)
            per_task[(store, target, slot)][readout] = oof
            self.result.selection.append(self._selection_row(store, data, "layer", readout, chosen, oof))
        for (store, target, slot), by_readout in per_task.items():
            data = self._task(store, target, slot)
            names = sorted(by_readout)
            picks = []
            for f in range(self.n_folds):
                scores = np.array([by_readout[n].inner[f] for n in names])
                picks.append(names[int(np.nanargmax(scores))] if np.isfinite(scores).any() else "")
            counts = {n: picks.count(n) for n in names}
            best = max(counts, key=counts.get)
            layer_choice = self.selected[(store, target, slot, best)][1]
            combined = self._combine_folds({f: by_readout[p] for f, p in enumerate(picks) if p})
            self.readout_choice[(store, target, slot)] = (combined, picks)
            row = self._selection_row(store, data, "readout", best, layer_choice, combined)
            row["per_fold"] = json.dumps(picks)
            self.result.selection.append(row)

    def _combine_folds(self, per_fold: dict[int, OOF]) -> OOF:
        """Held-out rows of fold ``f`` taken from ``per_fold[f]`` (a nested choice per outer fold)."""
        idx, pred, score, folds, inner = [], [], [], [], np.full(self.n_folds, np.nan)
        for f, oof in sorted(per_fold.items()):
            m = oof.fold == f
            idx.append(oof.idx[m])
            pred.append(oof.pred[m])
            folds.append(oof.fold[m])
            inner[f] = oof.inner[f]
            if oof.score is not None:
                score.append(oof.score[m])
        order = np.argsort(np.concatenate(idx), kind="stable")
        return OOF(np.concatenate(idx)[order], np.concatenate(pred)[order], np.concatenate(score)[order] if score else None,
                   np.concatenate(folds)[order], inner)

    def _selection_row(self, store: str, data: TargetData, choice: str, readout: str, chosen: list[int], oof: OOF) -> dict:
        metric = METRICS[data.spec.kind][0]
        rows = self._score_oof(data, oof, by_scenario=False)
        main = next(r for r in rows if r["metric"] == metric)
        modal = max(set(chosen), key=chosen.count) if chosen else -1
        return {
            "store": store, "store_hash": self._store_meta(store)["store_hash"], "target": data.spec.name, "slot": data.slot,
            "choice": choice, "readout": readout, "layer": int(modal), "per_fold": json.dumps([int(c) for c in chosen]),
            "inner_score": float(np.nanmean(oof.inner)), "metric": metric, "score": main["score"], "ci_low": main["ci_low"],
            "ci_high": main["ci_high"], "n": main["n"], "n_families": main["n_families"],
        }

    def _compare(self) -> None:
        """Paired bootstraps: stores against each other and against the label baselines."""
        self.log("paired comparisons")
        keys = sorted(self.selected)
        stores = [item.label for item in self.inputs]
        for (store, target, slot, readout) in keys:
            data = self._task(store, target, slot)
            oof_a, chosen = self.selected[(store, target, slot, readout)]
            name_a = f"{store}@L{max(set(chosen), key=chosen.count)}(selected)"
            others = [s for s in stores if stores.index(s) > stores.index(store) and (s, target, slot, readout) in self.selected]
            for other in others:
                oof_b, chosen_b = self.selected[(other, target, slot, readout)]
                data_b = self._task(other, target, slot)
                self._comparison(data, readout, name_a, f"{other}@L{max(set(chosen_b), key=chosen_b.count)}(selected)", oof_a, oof_b, data_b)
            for control in ("nuisance", "geometry", "ceiling"):
                for base_readout in ({"nuisance": ["linear"], "geometry": ["object"], "ceiling": self.suite.ceiling_readouts}[control]):
                    if control == "geometry" and readout != "object":
                        continue
                    if control == "ceiling" and base_readout != readout:
                        continue
                    label_store = self.grid_of[store].name
                    base = self.oof.get((label_store, target, slot, base_readout, control), {}).get(-1)
                    if base is not None:
                        self._comparison(data, readout, name_a, f"{label_store}:{control}({base_readout})", oof_a, base)

    def _comparison(self, data: TargetData, readout: str, a: str, b: str, oof_a: OOF, oof_b: OOF, data_b: TargetData | None = None) -> None:
        if data_b is None or data_b is data:
            metric, d, lo, hi, n = self._paired(data, oof_a, oof_b)
        else:
            metric, d, lo, hi, n = self._paired_by_family(data, oof_a, data_b, oof_b)
        self.result.comparisons.append(
            {"target": data.spec.name, "slot": data.slot, "readout": readout, "metric": metric, "a": a, "b": b, "delta": d, "ci_low": lo, "ci_high": hi, "n": n,
             "higher_is_better": HIGHER_IS_BETTER[metric]}
        )


def _same_grid(grid: TimeGrid, item: StoreInput) -> bool:
    """Whether ``item``'s token steps cover the same frames as ``grid``'s."""
    frames = item.store.dataset(TOKEN_FRAMES)[()]
    return frames.shape == grid.token_frames.shape and bool(np.array_equal(frames, grid.token_frames))


class _quiet:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
