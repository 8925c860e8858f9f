"""Control features and control labels, all made from the store's labels.

- nuisance: scenario (one-hot), frame index, object count and object size: what a probe gets
  without looking at the encoder.
- geometry: the slot's visible-mask coverage on the token grid, its centroid, area and extent,
  and the step's position in time: what choosing tokens by the mask already reveals.
- ceiling: the ground truth itself on the token grid over time (every slot's visible coverage at
  the step and its neighbours, with centroids and areas, plus depth on the token grid when the
  store has ``labels/depth_tokens``): what the data allow a readout to find.
- control task (Hewitt & Liang): labels that are a random function of the object's recurring
  type (shape x colour x size bin), so the control is learnable under clip splits by a probe
  that sees the attributes, yet unrelated to the physical target.

The first three are label baselines: a registry (:data:`LABEL_BASELINES`,
:func:`register_baseline`) names each one's features, the readouts that fit them and the store
labels it needs; a run whose stores lack those labels skips the baseline with that reason. The
control task changes the labels a store's own readout is fitted to, so the sweep runs it beside
each readout (:data:`CONTROL_TASK`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from probekit.evaluation.targets import LabelSource, TargetData

#: The control that refits a store's own readouts on control-task labels (not a label baseline).
CONTROL_TASK = "control_task"


@dataclass(frozen=True)
class LabelBaseline:
    """A baseline fitted on features made from the store's labels alone.

    Attributes
    ----------
    name
        Control name in suites and the results table's ``baseline`` column.
    features
        ``features(labels, scenarios, task) -> (n, f) array``, or None where the task has none
        (e.g. mask geometry for a scene-level target).
    readouts
        ``readouts(suite) -> [readout name, ...]``: the readouts fitted on the features.
    needs
        Store labels the features are made from; without them the baseline is skipped with a
        stated reason.
    """

    name: str
    features: Callable[[LabelSource, np.ndarray, TargetData], np.ndarray | None]
    readouts: Callable[[Any], list[str]]
    needs: tuple[str, ...] = ()

    def missing(self, labels: LabelSource) -> list[str]:
        """The labels this baseline needs that ``labels`` lacks."""
        return [name for name in self.needs if not labels.has(name)]


LABEL_BASELINES: dict[str, LabelBaseline] = {}


def register_baseline(baseline: LabelBaseline) -> LabelBaseline:
    """Add a label baseline to the registry (replacing one of the same name)."""
    if baseline.name == CONTROL_TASK:
        raise ValueError(f"{CONTROL_TASK!r} is the control task, not a label baseline")
    LABEL_BASELINES[baseline.name] = baseline
    return baseline


def control_names() -> tuple[str, ...]:
    """Every control a suite may name: the registered label baselines and the control task."""
    return (*LABEL_BASELINES, CONTROL_TASK)


def _object_count(labels: LabelSource) -> np.ndarray:
    return labels.get("exists").sum(axis=2).astype(np.float64)  # (N, T')


def _size(labels: LabelSource) -> np.ndarray:
    if labels.has("clip/half_extents"):
        return np.linalg.norm(np.nan_to_num(labels.get("clip/half_extents").astype(np.float64)), axis=-1)  # (N, K)
    n, _, k = labels.get("exists").shape
    return np.zeros((n, k))


def nuisance_features(labels: LabelSource, scenarios: np.ndarray, data: TargetData) -> np.ndarray:
    """(n, f) nuisance features of the samples of ``data``."""
    names, codes = np.unique(scenarios, return_inverse=True)
    onehot = np.eye(len(names))[codes[data.clip]]
    size = _size(labels)
    if data.slot >= 0:
        obj_size = size[data.clip, data.slot][:, None]
    else:
        exists_any = labels.get("exists").any(axis=1)
        obj_size = (np.where(exists_any, size, 0).sum(1) / np.maximum(exists_any.sum(1), 1))[data.clip][:, None]
    if (data.step >= 0).all():
        frame = labels.get("frame_mid")[data.step][:, None] if labels.has("frame_mid") else data.step[:, None].astype(float)
        count = _object_count(labels)[data.clip, data.step][:, None]
    else:
        frame = np.zeros((len(data.clip), 1))
        count = labels.get("exists").any(axis=1).sum(axis=1)[data.clip][:, None].astype(float)
    return np.nan_to_num(np.hstack([onehot, frame, count, obj_size]).astype(np.float64))


def _coverage_summary(cov: np.ndarray) -> np.ndarray:
    """Per map (..., H', W'): area, centroid (row, col), extent (rows, cols)."""
    cov = cov.astype(np.float64)
    h, w = cov.shape[-2:]
    area = cov.sum(axis=(-2, -1))
    rows = np.arange(h)[:, None] * np.ones((1, w))
    cols = np.ones((h, 1)) * np.arange(w)[None, :]
    safe = np.maximum(area, 1e-9)
    cr = (cov * rows).sum(axis=(-2, -1)) / safe
    cc = (cov * cols).sum(axis=(-2, -1)) / safe
    on = cov > 0
    ext_r = on.any(axis=-1).sum(axis=-1)
    ext_c = on.any(axis=-2).sum(axis=-1)
    return np.stack([area, cr, cc, ext_r, ext_c], axis=-1)


def geometry_features(labels: LabelSource, data: TargetData) -> np.ndarray | None:
    """(n, f) mask geometry and positional information of the slot (None if not per-slot)."""
    if data.slot < 0 or not labels.has("token_coverage"):
        return None
    cov = np.nan_to_num(labels.get("token_coverage").astype(np.float32))  # (N, T', K, H', W')
    if (data.step >= 0).all():
        maps = cov[data.clip, data.step, data.slot].astype(np.float64)
        when = (labels.get("frame_mid")[data.step] if labels.has("frame_mid") else data.step.astype(float))[:, None]
    else:
        maps = cov[data.clip, :, data.slot].astype(np.float64).mean(axis=1)
        when = np.zeros((len(data.clip), 1))
    flat = maps.reshape(len(maps), -1)
    return np.hstack([flat, _coverage_summary(maps), when])


#: Side of the coarse grid the ceiling's coverage and depth maps are pooled to (the exact
#: centroid, area and extent of each object come from the full-resolution maps).
CEILING_GRID = 4


def _pooled(maps: np.ndarray, side: int = CEILING_GRID) -> np.ndarray:
    """Average-pool the last two axes to at most ``side`` x ``side`` cells (block means)."""
    h, w = maps.shape[-2:]
    rows = np.array_split(np.arange(h), min(side, h))
    cols = np.array_split(np.arange(w), min(side, w))
    return np.stack([np.stack([maps[..., r[0]:r[-1] + 1, c[0]:c[-1] + 1].mean(axis=(-2, -1)) for c in cols], axis=-1)
                     for r in rows], axis=-2)


def ceiling_features(labels: LabelSource, data: TargetData, window: int = 1) -> np.ndarray | None:
    """(n, f) ground-truth features on the token grid around each sample's step.

    Per step of the window: each object's exact mask summary at full resolution (area,
    centroid, extent) and its coverage (and the depth map) pooled to a
    :data:`CEILING_GRID`-sided grid. Clip-level targets get the summaries of every step and the
    time-mean pooled maps. The features stay a few hundred wide whatever the token grid, so the
    ceiling's nested ridge is cheap.
    """
    if not labels.has("token_coverage"):
        return None
    cov = np.nan_to_num(labels.get("token_coverage").astype(np.float32))  # (N, T', K, H', W')
    depth = labels.get("depth_tokens").astype(np.float32) if labels.has("depth_tokens") else None
    n_steps = cov.shape[1]
    parts = []
    if (data.step >= 0).all():
        for offset in range(-window, window + 1):
            s = np.clip(data.step + offset, 0, n_steps - 1)
            maps = cov[data.clip, s]  # (n, K, H', W')
            parts += [_pooled(maps).reshape(len(maps), -1), _coverage_summary(maps).reshape(len(maps), -1)]
            if depth is not None:
                parts.append(_pooled(np.nan_to_num(depth[data.clip, s])).reshape(len(maps), -1))
    else:
        maps = cov[data.clip]  # (n, T', K, H', W')
        parts += [_pooled(maps.mean(axis=1)).reshape(len(maps), -1), _coverage_summary(maps).reshape(len(maps), -1)]
        if depth is not None:
            parts.append(_pooled(np.nan_to_num(depth[data.clip]).mean(axis=1)).reshape(len(maps), -1))
    return np.hstack(parts).astype(np.float64)


def object_types(labels: LabelSource) -> np.ndarray:
    """(N, K) integer type of each object: shape x colour x size bin (recurring across clips)."""
    exists = labels.get("exists").any(axis=1)
    n, k = exists.shape
    shape = labels.get("clip/shape").astype(int) if labels.has("clip/shape") else np.zeros((n, k), int)
    if labels.has("clip/color"):
        colour = labels.get("clip/color").astype(np.float64)
        colour_bin = (np.nan_to_num(colour) > 0.5).astype(int) @ np.array([1, 2, 4])
    else:
        colour_bin = np.zeros((n, k), int)
    size = _size(labels)
    valid_sizes = size[exists]
    edges = np.quantile(valid_sizes, [1 / 3, 2 / 3]) if valid_sizes.size else np.array([0.0, 0.0])
    size_bin = np.digitize(size, edges)
    return ((shape + 1) * 8 + colour_bin) * 3 + size_bin


def control_labels(labels: LabelSource, scenarios: np.ndarray, data: TargetData, seed: int = 0) -> np.ndarray:
    """Control-task labels for the samples of ``data``: a random value per recurring type.

    Per-slot targets use the object's type (shape x colour x size bin); scene- and clip-level
    targets use the scene's type (scenario x object count). Each type gets one value drawn from
    the target's own values (binary targets: a random class with the target's base rate).
    """
    if data.slot >= 0:
        types = object_types(labels)[data.clip, data.slot]
    else:
        _, scen = np.unique(scenarios, return_inverse=True)
        count = labels.get("exists").any(axis=1).sum(axis=1)
        types = (scen * 100 + count)[data.clip]
    uniq, inverse = np.unique(types, return_inverse=True)
    rng = np.random.default_rng(seed)
    if data.spec.kind == "binary":
        p = float(data.y.mean())
        table = (rng.random((len(uniq), 1)) < p).astype(np.float64)
    else:
        table = data.y[rng.integers(0, len(data.y), size=len(uniq))]
    return table[inverse]


register_baseline(LabelBaseline("nuisance", nuisance_features, lambda suite: ["linear"], needs=("exists",)))
register_baseline(LabelBaseline("geometry", lambda labels, scenarios, data: geometry_features(labels, data),
                                lambda suite: ["object"] if "object" in suite.readouts else [], needs=("token_coverage",)))
register_baseline(LabelBaseline("ceiling", lambda labels, scenarios, data: ceiling_features(labels, data),
                                lambda suite: list(suite.ceiling_readouts), needs=("token_coverage",)))
