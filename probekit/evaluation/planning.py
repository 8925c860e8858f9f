"""Planning a probe sweep: the time grids of the stores, the tasks (targets and slots) with their skip
reasons, the features each readout reads, and the units of work in their serial order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from probekit.errors import BadOptionError
from probekit.evaluation.controls import LABEL_BASELINES, control_labels
from probekit.evaluation.inputs import StoreInput
from probekit.evaluation.targets import CATALOG, TargetData, build_target, n_slots, required_labels
from probekit.formats.run import LABEL_STORE
from probekit.evaluation.units import FitUnit
from probekit.extraction.pooling import grid_pool
from probekit.formats.store import TOKEN_FRAMES
from probekit.probes.registry import Readout, get_readout


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


class SweepPlanning:
    """The planning half of :class:`probekit.evaluation.sweep.Sweep` (state lives on the sweep)."""

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
            if any(same_grid(g, item) for g in grids):
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

def same_grid(grid: TimeGrid, item: StoreInput) -> bool:
    """Whether ``item``'s token steps cover the same frames as ``grid``'s."""
    frames = item.store.dataset(TOKEN_FRAMES)[()]
    return frames.shape == grid.token_frames.shape and bool(np.array_equal(frames, grid.token_frames))


class _quiet:
    """Silence RuntimeWarnings (e.g. the mean of an empty slice) inside a ``with`` block."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
