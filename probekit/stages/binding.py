"""The ``binding`` stage: do an encoder's tokens group into the objects, and does each object's
state stay in its own tokens.

Per store and layer, on stores that hold full ``tokens`` and ``token_coverage``:

- **Token clusters vs masks.** Each clip's token grid (time flattened) is clustered with
  k-means (``n_init=10``, seeded) and Ward agglomeration into K = objects present + 1 clusters
  and compared with the ground-truth labels (argmax of coverage, :mod:`probekit.metrics.binding`)
  over the whole clip and frame by frame (the clip's clusters scored in each frame), beside
  k-means on the tokens' (t, h, w) positions alone. Clips with fewer than ``min_objects``
  objects on the grid are excluded and counted.
- **Binding specificity.** For object slots i and j, j's state (each of ``targets``) is
  decoded with family-grouped cross-validated ridge from i's mask-pooled tokens (tokens where
  i's coverage >= 0.5 and j's is 0), and from i's ground-truth state on the same samples; the
  leakage of i's tokens about j is the difference, floored at 0 (as is every R^2: a decoder
  worse than the mean carries no information). Own gain = mean over i of R^2 of i's state from i's tokens;
  cross gain = mean leakage over i != j; specificity = own gain - cross gain. Intervals resample
  families (the same replicates for every entry).

The table's columns are documented in ``docs/formats.md`` ("Binding table"); example frames
(ground-truth labels next to clusters) go to ``tables/binding_frames.parquet``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from probekit.errors import BadOptionError
from probekit.metrics.binding import fg_ari, identity_consistency, labels_from_coverage, mask_overlaps, n_objects
from probekit.stages import Stage, StageContext, StageSkipped, register_stage

#: Clustering methods on the tokens (position-only k-means is always added).
METHODS = ("kmeans", "ward")
#: Default parameters (``[stages.binding]`` in a suite overrides them).
DEFAULTS: dict[str, Any] = {
    "targets": ["position_camera", "velocity"],
    "methods": list(METHODS),
    "min_objects": 2,
    "min_coverage": 0.5,
    "min_samples": 20,
    "n_boot": 200,
    "batch_clips": 16,
}
#: Extraction flag that writes what the stage needs.
EXTRACT_HINT = "extract with `probekit extract ... --pool mean,time,object,none` (none = full tokens)"
COLUMNS = ["store", "control", "layer", "method", "scope", "metric", "target", "slot_i", "slot_j",
           "value", "ci_low", "ci_high", "n_clips", "n_excluded", "n_samples"]


def position_features(grid: tuple[int, int, int]) -> np.ndarray:
    """Each token's (t, h, w) scaled to [0, 1] per axis, in grid order -> (T'*H'*W', 3)."""
    axes = [np.linspace(0.0, 1.0, size) if size > 1 else np.zeros(1) for size in grid]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def cluster_tokens(features: np.ndarray, n_clusters: int, method: str, seed: int = 0) -> np.ndarray:
    """Cluster ids of points (n, d): ``kmeans`` (n_init=10, seeded) or ``ward`` agglomeration."""
    from sklearn.cluster import AgglomerativeClustering, KMeans

    n_clusters = min(n_clusters, len(features))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer distinct points than clusters: sklearn warns, labels stay valid
        if method == "kmeans":
            return KMeans(n_clusters, n_init=10, random_state=seed).fit_predict(features)
        if method == "ward":
            return AgglomerativeClustering(n_clusters, linkage="ward").fit_predict(features)
    raise BadOptionError(f"[stages.binding] methods: unknown method {method!r}; use {', '.join(METHODS)}")


def clip_scores(truth: np.ndarray, pred: np.ndarray, n_clusters: int) -> dict[tuple[str, str], float]:
    """Scores of one clip's clustering: ``{(scope, metric): value}``.

    ``truth`` and ``pred`` are (T', H', W'). Scope ``clip`` flattens time; scope ``frame`` scores
    the same clusters in each frame (FG-ARI on frames with >= 2 objects, mBO and mIoU on frames
    with >= 1) and averages the frames.
    """
    mbo, miou = mask_overlaps(truth, pred, n_clusters)
    out = {("clip", "fg_ari"): fg_ari(truth, pred), ("clip", "mbo"): mbo, ("clip", "miou"): miou,
           ("clip", "identity"): identity_consistency(truth, pred)}
    aris, mbos, mious = [], [], []
    for frame_truth, frame_pred in zip(truth, pred):
        count = n_objects(frame_truth)
        if count >= 2:
            aris.append(fg_ari(frame_truth, frame_pred))
        if count >= 1:
            frame_mbo, frame_miou = mask_overlaps(frame_truth, frame_pred, n_clusters)
            mbos.append(frame_mbo)
            mious.append(frame_miou)
    for metric, values in (("fg_ari", aris), ("mbo", mbos), ("miou", mious)):
        out[("frame", metric)] = float(np.mean(values)) if values else float("nan")
    return out


@dataclass
class _Params:
    targets: list[str]
    methods: list[str]
    min_objects: int
    min_coverage: float
    min_samples: int
    n_boot: int
    batch_clips: int


def _params(raw: dict[str, Any]) -> _Params:
    from probekit.evaluation.targets import get_target

    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise BadOptionError(f"[stages.binding]: unknown key(s) {unknown}; known: {', '.join(DEFAULTS)}")
    merged = {**DEFAULTS, **raw}
    for key in ("targets", "methods"):
        if not isinstance(merged[key], list) or not merged[key] or not all(isinstance(v, str) for v in merged[key]):
            raise BadOptionError(f"[stages.binding] {key} = {merged[key]!r}: give a non-empty list of names, e.g. {DEFAULTS[key]}")
    for name in merged["targets"]:
        spec = get_target(name)
        if spec.level != "slot" or spec.kind != "continuous" or spec.subset != "all":
            raise BadOptionError(f"[stages.binding] targets: {name!r} is not a per-object continuous target; use e.g. position_camera, velocity")
    for method in merged["methods"]:
        if method not in METHODS:
            raise BadOptionError(f"[stages.binding] methods: unknown method {method!r}; use {', '.join(METHODS)}")
    for key in ("min_objects", "min_samples", "n_boot", "batch_clips"):
        if not isinstance(merged[key], int) or merged[key] < 1:
            raise BadOptionError(f"[stages.binding] {key} = {merged[key]!r}: give a positive integer")
    if not 0.0 < float(merged["min_coverage"]) <= 1.0:
        raise BadOptionError(f"[stages.binding] min_coverage = {merged['min_coverage']!r}: give a number in (0, 1]")
    return _Params(list(merged["targets"]), list(merged["methods"]), int(merged["min_objects"]), float(merged["min_coverage"]),
                   int(merged["min_samples"]), int(merged["n_boot"]), int(merged["batch_clips"]))


def _token_layers(item) -> list[int]:
    return [layer for layer in item.store.layers if "tokens" in item.store.feature_kinds(layer)]


def _row(item, layer: int, method: str, scope: str, metric: str, value: float, low: float = float("nan"),
         high: float = float("nan"), **extra: Any) -> dict[str, Any]:
    row = {"store": item.label, "control": item.control, "layer": int(layer), "method": method, "scope": scope,
           "metric": metric, "target": "", "slot_i": -1, "slot_j": -1, "value": float(value), "ci_low": float(low),
           "ci_high": float(high), "n_clips": 0, "n_excluded": 0, "n_samples": 0}
    row.update(extra)
    return row


def _read_tokens(item, layer: int, clips: np.ndarray) -> np.ndarray:
    """Tokens (b, T', H', W', D) of reference clips ``clips`` in the store's dtype, read in one sorted h5py selection."""
    rows = clips if item.order is None else item.order[clips]
    order = np.argsort(rows)
    data = item.store.dataset(f"layers/{layer}/tokens")[np.sort(rows)]
    out = np.empty_like(data)
    out[order] = data
    return out


class _ClipClusters:
    """Cluster scores of one store, accumulated per layer and method."""

    def __init__(self, truth: np.ndarray, params: _Params, seed: int) -> None:
        self.truth = truth  # (N, T', H', W')
        self.params = params
        self.seed = seed
        self.counts = np.array([n_objects(t) for t in truth])
        self.eligible = np.nonzero(self.counts >= params.min_objects)[0]
        self.scores: dict[tuple[int, str], dict[int, dict[tuple[str, str], float]]] = {}
        self.example: dict[tuple[int, str], np.ndarray] = {}
        self.example_clip = int(self.eligible[np.argmax(self.counts[self.eligible])]) if len(self.eligible) else -1

    def task(self, clip: int, features: np.ndarray, methods: tuple[str, ...]) -> tuple:
        """The :func:`cluster_clip` task of one clip's points."""
        return features, self.truth[clip], int(self.counts[clip]) + 1, methods, self.seed

    def record(self, layer: int, clip: int, results: list[tuple[str, np.ndarray, dict]]) -> None:
        """Keep the scores (and the example clip's clusters) :func:`cluster_clip` returned."""
        for method, pred, scores in results:
            self.scores.setdefault((layer, method), {})[clip] = scores
            if clip == self.example_clip:
                self.example[(layer, method)] = pred


def cluster_clip(task: tuple) -> list[tuple[str, np.ndarray, dict]]:
    """Cluster one clip's points by each method (``position``: k-means on the positions) and score them.

    ``task`` is ``(features (n, d) in any float dtype, truth (T', H', W'), clusters, methods, seed)``; returns
    ``(method, clusters (T', H', W'), scores)`` per method (run by the stage's executor).
    """
    features, truth, k, methods, seed = task
    features = np.asarray(features, dtype=np.float64)
    out = []
    for method in methods:
        algorithm = "kmeans" if method == "position" else method
        pred = cluster_tokens(features, k, algorithm, seed).reshape(truth.shape)
        out.append((method, pred, clip_scores(truth, pred, k)))
    return out


def _cluster_rows(item, clusters: _ClipClusters, families: np.ndarray, n_boot: int, seed: int) -> list[dict[str, Any]]:
    from probekit.metrics.bootstrap import bootstrap_interval

    rows = []
    n_excluded = int(len(clusters.truth) - len(clusters.eligible))
    for (layer, method), per_clip in clusters.scores.items():
        clip_ids = np.array(sorted(per_clip))
        for key in per_clip[clip_ids[0]]:
            values = np.array([per_clip[c][key] for c in clip_ids])
            keep = np.isfinite(values)
            if not keep.any():
                continue
            low, high = bootstrap_interval("mean", values[keep], values[keep], families[clip_ids[keep]], n_boot=n_boot, seed=seed)
            rows.append(_row(item, layer, method, key[0], key[1], values[keep].mean(), low, high,
                             n_clips=int(keep.sum()), n_excluded=n_excluded, n_samples=int(keep.sum())))
    return rows


# -- binding specificity -------------------------------------------------------------------------


def _dense_targets(labels, names: list[str], shape: tuple[int, int, int], token_frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per target, (N, T', K, m) values with NaN where there is no sample."""
    from probekit.evaluation.targets import build_target, get_target

    n, t, k = shape
    out = {}
    for name in names:
        spec = get_target(name)
        dense = None
        for slot in range(k):
            data = build_target(labels, spec, slot, token_frames)
            if dense is None:
                dense = np.full((n, t, k, data.y.shape[1]), np.nan)
            dense[data.clip, data.step, slot] = data.y
        out[name] = dense
    return out


def _pair_mask(coverage: np.ndarray, i: int, j: int, min_coverage: float) -> np.ndarray:
    """Tokens pooled for (i, j) in coverage (..., K, H', W'): i's coverage >= min and j's 0 (i == j: i's only)."""
    mask = coverage[..., i, :, :] >= min_coverage
    return mask if i == j else mask & (coverage[..., j, :, :] <= 0.0)


def _oof_task(problem: tuple) -> np.ndarray:
    """:func:`_oof` of one ``(X, Y, fold, groups, seed)`` problem (run by the stage's executor)."""
    return _oof(*problem)


def _oof(X: np.ndarray, Y: np.ndarray, fold: np.ndarray, groups: np.ndarray, seed: int) -> np.ndarray:
    """Out-of-fold ridge predictions (alpha per column by grouped inner CV); NaN rows unfit."""
    from probekit.probes.linear import RidgeProbe

    pred = np.full(Y.shape, np.nan)
    for f in np.unique(fold):
        test, train = fold == f, fold != f
        if len(np.unique(groups[train])) < 2:
            continue
        model = RidgeProbe(cv=3, random_state=seed).fit(X[train], Y[train], groups=groups[train])
        pred[test] = model.predict(X[test]).reshape(int(test.sum()), -1)
    return pred


class _Replicates:
    """R^2 of out-of-fold predictions and its family-bootstrap replicates (shared resampling)."""

    def __init__(self, families: np.ndarray, n_boot: int, seed: int) -> None:
        from probekit.metrics.bootstrap import family_members

        self.inverse, members = family_members(families)
        self.n_families = len(members)
        rng = np.random.default_rng(seed)
        self.counts = rng.multinomial(self.n_families, np.full(self.n_families, 1.0 / self.n_families), size=n_boot)

    def r2(self, clips: np.ndarray, y: np.ndarray, pred: np.ndarray) -> tuple[float, np.ndarray]:
        """R^2 floored at 0 (a decoder worse than the mean carries no information), and replicates."""
        from probekit.metrics.bootstrap import _decomposable, _family_sums

        if len(y) < 2:
            return float("nan"), np.full(len(self.counts), np.nan)
        stats, finish = _decomposable("r2", y, pred)
        value = max(float(finish(stats.sum(axis=0, keepdims=True))[0]), 0.0)
        sums = _family_sums(stats, self.inverse[clips], self.n_families)
        with np.errstate(divide="ignore", invalid="ignore"):
            return value, np.maximum(finish(self.counts @ sums), 0.0)


def _interval(replicates: np.ndarray) -> tuple[float, float]:
    finite = replicates[np.isfinite(replicates)]
    if len(finite) == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [0.025, 0.975])
    return float(low), float(high)


class _Leakage:
    """Samples and ground-truth baselines of the leakage matrix of one store (layer-independent)."""

    def __init__(self, item, coverage: np.ndarray, params: _Params, folds: int, seed: int, families: np.ndarray) -> None:
        from probekit.evaluation.splits import family_folds

        n, t, k = coverage.shape[:3]
        self.params, self.seed, self.k = params, seed, k
        token_frames = np.asarray(item.store.dataset("layout/token_frames"))
        self.targets = _dense_targets(item.labels, params.targets, (n, t, k), token_frames)
        self.coverage = coverage
        state = np.concatenate([self.targets[name] for name in params.targets], axis=-1)  # (N, T', K, m)
        self.state = state
        state_ok = np.isfinite(state).all(axis=-1)
        family_codes = np.unique(families, return_inverse=True)[1]
        n_folds = min(folds, len(np.unique(family_codes)))
        self.clip_fold = family_folds(family_codes, n_folds, seed) if n_folds >= 2 else None
        self.families = family_codes
        self.replicates = _Replicates(family_codes, params.n_boot, seed)
        self.samples: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self.features: dict[tuple[int, int], np.ndarray] = {}  # pooled tokens of the current layer
        self.pooled_all = np.empty((n, t, 0))
        self.baseline: dict[tuple[int, int, str], tuple[float, np.ndarray]] = {}
        if self.clip_fold is None:
            return
        for i in range(k):
            for j in range(k):
                ok = _pair_mask(coverage, i, j, params.min_coverage).any(axis=(-2, -1)) & state_ok[:, :, j] & state_ok[:, :, i]
                clip, step = np.nonzero(ok)
                if len(clip) < params.min_samples or len(np.unique(self.clip_fold[clip])) < 2:
                    continue
                self.samples[(i, j)] = (clip, step)
                if i != j:  # what i's own state tells about j (physical coupling)
                    for name, score in self._score(state[clip, step, i], j, clip, step).items():
                        self.baseline[(i, j, name)] = score

    def _problem(self, X: np.ndarray, j: int, clip: np.ndarray, step: np.ndarray) -> tuple:
        """The :func:`_oof_task` of every target of slot ``j`` from ``X`` (all targets in one ridge fit)."""
        y = np.concatenate([self.targets[name][clip, step, j] for name in self.params.targets], axis=1)
        return X, y, self.clip_fold[clip], self.families[clip], self.seed

    def _scores(self, problem: tuple, pred: np.ndarray, clip: np.ndarray) -> dict[str, tuple[float, np.ndarray]]:
        """R^2 (and replicates) of each target from a problem's out-of-fold predictions."""
        y = problem[1]
        edges = np.cumsum([0] + [self.targets[name].shape[-1] for name in self.params.targets])
        fitted = np.isfinite(pred).all(axis=1)
        return {name: self.replicates.r2(clip[fitted], y[fitted, a:b], pred[fitted, a:b])
                for name, a, b in zip(self.params.targets, edges[:-1], edges[1:])}

    def _score(self, X: np.ndarray, j: int, clip: np.ndarray, step: np.ndarray) -> dict[str, tuple[float, np.ndarray]]:
        """R^2 (and replicates) of each target of slot ``j`` from ``X``, all targets in one ridge fit."""
        problem = self._problem(X, j, clip, step)
        return self._scores(problem, _oof_task(problem), clip)

    def add_tokens(self, tokens: np.ndarray, start: int) -> None:
        """Pool the tokens (b, T', H', W', D) of clips ``start .. start + b`` for every pair's samples."""
        n, t = self.coverage.shape[:2]
        if self.pooled_all.shape[-1] != tokens.shape[-1]:
            self.pooled_all = np.empty((n, t, tokens.shape[-1]), np.float32)
            self.features = {pair: np.empty((len(clip), tokens.shape[-1]), np.float32) for pair, (clip, _) in self.samples.items()}
        self.pooled_all[start : start + len(tokens)] = tokens.mean(axis=(2, 3))
        for (i, j), (clip, step) in self.samples.items():
            inside = (clip >= start) & (clip < start + len(tokens))
            if inside.any():
                mask = _pair_mask(self.coverage[clip[inside], step[inside]].astype(np.float32), i, j, self.params.min_coverage)
                summed = np.einsum("nhw,nhwd->nd", mask.astype(np.float64), tokens[clip[inside] - start, step[inside]])
                self.features[(i, j)][inside] = summed / mask.sum(axis=(1, 2))[:, None]

    def rows(self, item, layer: int, mapper: Callable[[Callable, list], list]) -> list[dict[str, Any]]:
        """Leakage entries and the summary (own, cross and pooled R^2, specificity) of the layer
        whose tokens were last given to :meth:`add_tokens`; ``mapper`` runs the ridge fits
        (:meth:`probekit.stages.StageContext.map`)."""
        fits = [(pair, clip, self._problem(self.features[pair].astype(np.float64), pair[1], clip, step))
                for pair, (clip, step) in self.samples.items()]
        for j in range(self.k):
            clip, step = np.nonzero(np.isfinite(self.state[:, :, j]).all(axis=-1))
            if len(clip) >= self.params.min_samples and len(np.unique(self.clip_fold[clip])) >= 2:
                fits.append((("pooled", j), clip, self._problem(self.pooled_all[clip, step].astype(np.float64), j, clip, step)))
        preds = mapper(_oof_task, [problem for _, _, problem in fits])
        scored = [(key, self._scores(problem, pred, clip)) for (key, clip, problem), pred in zip(fits, preds)]
        scores = {key: score for key, score in scored if key[0] != "pooled"}
        pooled_scores = [score for key, score in scored if key[0] == "pooled"]
        rows = []
        for name in self.params.targets:
            own, cross = [], []
            pooled_r2 = [score[name] for score in pooled_scores if np.isfinite(score[name][0])]
            for (i, j), (clip, step) in self.samples.items():
                value, reps = scores[(i, j)][name]
                if not np.isfinite(value) or (i != j and not np.isfinite(self.baseline[(i, j, name)][0])):
                    continue
                extra = {"target": name, "slot_i": i, "slot_j": j, "n_samples": len(clip), "n_clips": len(np.unique(clip))}
                if i == j:
                    own.append((value, reps))
                    rows.append(_row(item, layer, "ridge", "tokens", "leakage", value, *_interval(reps), **extra))
                    continue
                base, base_reps = self.baseline[(i, j, name)]
                gain, gain_reps = max(value - base, 0.0), np.maximum(reps - base_reps, 0.0)  # nothing beyond physics: 0
                cross.append((gain, gain_reps))
                rows.append(_row(item, layer, "ridge", "tokens", "leakage", gain, *_interval(gain_reps), **extra))
                rows.append(_row(item, layer, "ridge", "state", "leakage", base, *_interval(base_reps), **extra))
            summary = {"target": name}
            for metric, entries in (("own_gain", own), ("cross_gain", cross), ("pooled_r2", pooled_r2)):
                if entries:
                    value = float(np.mean([e[0] for e in entries]))
                    reps = np.mean([e[1] for e in entries], axis=0)
                    rows.append(_row(item, layer, "ridge", "summary", metric, value, *_interval(reps), **summary))
            if own and cross:
                value = float(np.mean([e[0] for e in own]) - np.mean([e[0] for e in cross]))
                reps = np.mean([e[1] for e in own], axis=0) - np.mean([e[1] for e in cross], axis=0)
                rows.append(_row(item, layer, "ridge", "summary", "specificity", value, *_interval(reps), **summary))
        return rows


# -- the stage -----------------------------------------------------------------------------------


def _store_rows(item, params: _Params, context: StageContext) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    clips_table = item.store.clips()
    families = np.asarray(clips_table["family_id"] if item.order is None else clips_table["family_id"].to_numpy()[item.order])
    clip_ids = np.asarray(clips_table["clip_id"] if item.order is None else clips_table["clip_id"].to_numpy()[item.order])
    coverage = np.asarray(item.labels.get("token_coverage"), dtype=np.float32)  # (N, T', K, H', W')
    truth = labels_from_coverage(coverage)
    grid = truth.shape[1:]
    clusters = _ClipClusters(truth, params, context.seed)
    positions = position_features(grid)
    for clip in clusters.eligible:
        clusters.record(-1, int(clip), cluster_clip(clusters.task(int(clip), positions, ("position",))))
    leakage = _Leakage(item, coverage, params, context.folds, context.seed, families)
    n = len(truth)
    rows: list[dict[str, Any]] = []
    for layer in _token_layers(item):
        context.log(f"binding: {item.label} layer {layer}")
        for start in range(0, n, params.batch_clips):
            batch = np.arange(start, min(n, start + params.batch_clips))
            tokens = _read_tokens(item, layer, batch)  # (b, T', H', W', D)
            if tokens.shape[1:4] != grid:
                raise BadOptionError(f"{item.path}: layer {layer} tokens have grid {tokens.shape[1:4]}, token_coverage {grid}; re-extract the store")
            chosen = [int(clip) for clip in batch[np.isin(batch, clusters.eligible)]]
            tasks = [clusters.task(clip, tokens[clip - start].reshape(-1, tokens.shape[-1]), tuple(params.methods)) for clip in chosen]
            for clip, results in zip(chosen, context.map(cluster_clip, tasks)):
                clusters.record(layer, clip, results)
            if leakage.samples:
                leakage.add_tokens(tokens.astype(np.float64), start)
        if leakage.samples:
            rows += leakage.rows(item, layer, context.map)
    rows = _cluster_rows(item, clusters, families, params.n_boot, context.seed) + rows
    frames = _example_frames(item, clusters, clip_ids)
    return rows, frames


def _example_frames(item, clusters: _ClipClusters, clip_ids: np.ndarray) -> list[dict[str, Any]]:
    """Ground truth and clusters of the example clip's busiest frame, per layer and method."""
    clip = clusters.example_clip
    if clip < 0:
        return []
    truth = clusters.truth[clip]
    step = int(np.argmax([n_objects(frame) for frame in truth]))
    h, w = truth.shape[1:]
    base = {"store": item.label, "clip_id": str(clip_ids[clip]), "step": step, "height": h, "width": w}
    frames = [{**base, "layer": -1, "method": "truth", "labels": truth[step].ravel().astype(int).tolist()}]
    for (layer, method), pred in sorted(clusters.example.items()):
        frames.append({**base, "layer": int(layer), "method": method, "labels": pred[step].ravel().astype(int).tolist()})
    return frames


def run_binding(context: StageContext) -> pd.DataFrame:
    """The binding table of a probe run (see the module docstring)."""
    from threadpoolctl import threadpool_limits

    from probekit.formats.run import write_stage_table

    params = _params(context.params)
    usable, missing = [], []
    for item in context.inputs:
        if _token_layers(item) and item.labels.has("token_coverage"):
            usable.append(item)
        else:
            missing.append(item.label)
    if not usable:
        reasons = [f"{item.label}: {why}" for item in context.inputs if item.label in missing
                   and (why := (item.store.attrs.get("not_available") or {}).get("masks"))]  # benchmark readers say why
        if reasons:
            raise StageSkipped(f"not available: {'; '.join(reasons)}")
        raise StageSkipped(f"no store holds full tokens and token_coverage ({', '.join(missing)}); {EXTRACT_HINT}")
    for label in missing:
        context.log(f"binding: {label} holds no full tokens or token_coverage; left out ({EXTRACT_HINT})")
    rows, frames = [], []
    with threadpool_limits(limits=1):
        for item in usable:
            store_rows, store_frames = _store_rows(item, params, context)
            rows += store_rows
            frames += store_frames
    if frames:
        write_stage_table(context.out, "binding_frames", pd.DataFrame(frames))
    return pd.DataFrame(rows, columns=COLUMNS)


register_stage(Stage(
    "binding", "Slot binding of tokens", run_binding, needs=("tokens", "token_coverage"),
    description="Token clusters vs object masks (FG-ARI, mBO, mIoU, identity) and per-object binding specificity, per layer.",
))

__all__ = ["DEFAULTS", "METHODS", "clip_scores", "cluster_tokens", "position_features", "run_binding"]
