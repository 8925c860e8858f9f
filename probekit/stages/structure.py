"""The ``structure`` stage: invariance from counterfactual twins, equivariance, DCI, MIG and CKA.

One tidy table, one row per (store, layer, pooling, control, metric, factor, versus,
versus_layer) with ``value, ci_low, ci_high, n, n_families, note`` (see docs/formats.md,
"Structure table"). The maths lives in :mod:`probekit.metrics.invariance`,
:mod:`probekit.metrics.disentanglement` and :mod:`probekit.metrics.similarity`; this module
reads the stores and lays the numbers out.

Parameters (``[stages.structure]`` of a suite): ``layers`` (``"all"``, ``"last"`` or a list of
indices; default all), ``dci_method`` (``"lasso"`` or ``"gbt"``), ``n_boot`` (1000),
``pixel_floor`` (0.01: a physics factor whose pixel distance is below this fraction of the
nuisance factor's is n/a), ``rotation_seed`` (the run seed by default), ``parts`` (which
measurements to make: any of ``invariance`` (with equivariance), ``disentanglement``,
``similarity``; all by default).
"""

from __future__ import annotations

import colorsys
import functools
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np
import pandas as pd

from probekit.errors import BadOptionError
from probekit.h5io import read_strings
from probekit.metrics.bootstrap import bootstrap_interval
from probekit.metrics.disentanglement import DCI_METHODS, dci, discretise_factor, mig, random_rotation
from probekit.metrics.invariance import (
    TRAJECTORY_LABELS,
    TwinPairs,
    divergence_steps,
    equivariance_r2,
    family_counts,
    percentile_interval,
    twin_distances,
    twin_pairs,
    weighted_means,
)
from probekit.metrics.similarity import linear_cka
from probekit.stages import Stage, StageContext, StageSkipped, register_stage
from probekit.worlds.counterfactuals import NUISANCE_FACTORS, PHYSICS_FACTORS

#: Columns of the structure table, in order.
COLUMNS = ("store", "layer", "pooling", "control", "metric", "factor", "versus", "versus_layer",
           "value", "ci_low", "ci_high", "n", "n_families", "note")
#: Poolings of the twin distances: the token mean per step, and slot 0's mask-pooled latent.
POOLINGS = {"token_mean": "time", "object": "object"}
#: Clip-level factors of DCI and MIG: name -> (label in the store, how to reduce it, categorical).
FACTORS = {
    "gravity": ("clip/gravity", "scalar", False),
    "mass": ("clip/mass", "slot0", False),
    "friction": ("clip/friction", "slot0", False),
    "restitution": ("clip/restitution", "slot0", False),
    "size": ("clip/half_extents", "norm", False),
    "shape": ("clip/shape", "slot0", True),
    "colour": ("clip/color", "hue", True),
}
#: Measurements of the stage (``parts`` parameter).
PARTS = ("invariance", "disentanglement", "similarity")
#: Hue sectors of the colour factor.
HUE_SECTORS = 6


@dataclass
class StructureParams:
    """Parsed ``[stages.structure]`` parameters."""

    layers: Any = "all"
    dci_method: str = "lasso"
    n_boot: int = 1000
    pixel_floor: float = 0.01
    rotation_seed: int = 0
    parts: tuple[str, ...] = PARTS

    @classmethod
    def parse(cls, params: dict[str, Any], seed: int) -> "StructureParams":
        known = {"layers", "dci_method", "n_boot", "pixel_floor", "rotation_seed", "parts"}
        unknown = sorted(set(params) - known)
        if unknown:
            raise BadOptionError(f"[stages.structure]: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(known))}")
        out = cls(rotation_seed=seed, **params)
        out.parts = tuple(out.parts)
        unknown_parts = sorted(set(out.parts) - set(PARTS))
        if unknown_parts or not out.parts:
            raise BadOptionError(f"[stages.structure] parts = {list(out.parts)}; use some of {', '.join(PARTS)}")
        if out.dci_method not in DCI_METHODS:
            raise BadOptionError(f"[stages.structure] dci_method = {out.dci_method!r}; use one of {', '.join(DCI_METHODS)}")
        if int(out.n_boot) < 10:
            raise BadOptionError(f"[stages.structure] n_boot = {out.n_boot}; use at least 10")
        if not 0 <= float(out.pixel_floor) < 1:
            raise BadOptionError(f"[stages.structure] pixel_floor = {out.pixel_floor}; use a fraction in [0, 1)")
        return out

    def layers_of(self, available: list[int]) -> list[int]:
        """The stored layers this stage reads."""
        if self.layers == "all":
            return list(available)
        if self.layers == "last":
            return [available[-1]]
        if isinstance(self.layers, list):
            chosen = [int(v) for v in self.layers if int(v) in available]
            return chosen or [available[-1]]
        raise BadOptionError(f"[stages.structure] layers = {self.layers!r}; use \"all\", \"last\" or a list of layer indices")


def _row(store: str, metric: str, value: float = np.nan, **fields: Any) -> dict[str, Any]:
    row = {"store": store, "layer": -1, "pooling": "", "control": "none", "metric": metric, "factor": "", "versus": "",
           "versus_layer": -1, "value": float(value), "ci_low": np.nan, "ci_high": np.nan, "n": 0, "n_families": 0,
           "note": ""}
    row.update(fields)
    return row


def clip_table(store) -> pd.DataFrame:
    """Every string column of the store's ``clips`` group (kind, counterfactual factor, detail, ...)."""
    group = store.dataset("clips")
    return pd.DataFrame({name: read_strings(group[name]) for name in group
                         if isinstance(group[name], h5py.Dataset) and h5py.check_string_dtype(group[name].dtype) is not None})


# -- invariance -------------------------------------------------------------------------------
def _pair_latents(item, layer: int, pooling: str) -> np.ndarray | None:
    kind = POOLINGS[pooling]
    if kind not in item.store.feature_kinds(layer):
        return None
    data = np.asarray(item.features(layer, kind), dtype=np.float64)
    return data[:, :, 0, :] if pooling == "object" else data


def _divergence(item, pairs: TwinPairs, n_steps: int) -> tuple[np.ndarray, str]:
    """First counted step of each pair: nuisance twins differ from the first frame on."""
    physics = np.isin(pairs.factor, PHYSICS_FACTORS)
    start = np.zeros(len(pairs), dtype=np.int64)
    have = [name for name in TRAJECTORY_LABELS if item.labels.has(name)]
    if not have:
        return start, "no world-frame trajectories in the store: every step counts"
    start[physics] = divergence_steps([item.labels.get(name) for name in have], pairs.select(physics))
    return np.minimum(start, n_steps), ""


@dataclass
class _Distances:
    per_pair: np.ndarray  # (P,)
    note: str


def _store_distances(item, pairs: TwinPairs, originals: np.ndarray, layers: list[int]) -> dict[tuple[int, str], _Distances]:
    out = {}
    for layer in layers:
        for pooling in POOLINGS:
            latents = _pair_latents(item, layer, pooling)
            if latents is None:
                continue
            start, note = _divergence(item, pairs, latents.shape[1])
            out[(layer, pooling)] = _Distances(twin_distances(latents, pairs, start, originals), note)
    return out


def _factor_order(pairs: TwinPairs) -> tuple[list[str], list[str]]:
    present = set(pairs.factor.tolist())
    return [f for f in PHYSICS_FACTORS if f in present], [f for f in NUISANCE_FACTORS if f in present]


def _invariance_rows(inputs, pairs: TwinPairs, originals: np.ndarray, params: StructureParams, seed: int, folds: int) -> list[dict]:
    rows: list[dict] = []
    physics, nuisance = _factor_order(pairs)
    inverse, counts = family_counts(pairs.family, params.n_boot, seed)
    pixels = next((item for item in inputs if item.control == "pixels"), None)
    pixel_d = _store_distances(pixels, pairs, originals, [pixels.store.layers[-1]]) if pixels is not None else {}
    pixel_layer = pixels.store.layers[-1] if pixels is not None else -1
    for item in inputs:
        layers = params.layers_of(item.store.layers) if item is not pixels else [pixel_layer]
        distances = pixel_d if item is pixels else _store_distances(item, pairs, originals, layers)
        for (layer, pooling), dist in distances.items():
            base = dict(layer=layer, pooling=pooling)
            replicates, means = {}, {}
            for factor in physics + nuisance:
                keep = pairs.factor == factor
                finite = keep & np.isfinite(dist.per_pair)
                means[factor] = float(dist.per_pair[finite].mean()) if finite.any() else np.nan
                replicates[factor] = weighted_means(dist.per_pair, keep, inverse, counts)
                low, high = percentile_interval(replicates[factor])
                never = int((keep & ~np.isfinite(dist.per_pair)).sum())
                note = "; ".join(filter(None, [dist.note, f"{never} of {int(keep.sum())} pairs never diverge or have no latent (left out)" if never else ""]))
                rows.append(_row(item.label, "twin_distance", means[factor], factor=factor, ci_low=low, ci_high=high,
                                 n=int(finite.sum()), n_families=len(set(pairs.family[finite])), note=note, **base))
            pix = pixel_d.get((pixel_layer, pooling))
            for p in physics:
                for n in nuisance:
                    rows.extend(_ratio_rows(item, pixels, pairs, p, n, dist, pix, means, replicates, inverse, counts, params, base))
            if item is not pixels:
                rows.extend(_equivariance_rows(item, pairs, layer, pooling, physics, seed, folds, params, base))
    return rows


def _finite_mean(values: np.ndarray) -> float:
    """Mean of the finite values; NaN when there are none (no pair of that factor has a distance)."""
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


def _ratio_rows(item, pixels, pairs, p, n, dist, pix, means, replicates, inverse, counts, params, base) -> list[dict]:
    rows = []
    sel = np.isin(pairs.factor, (p, n)) & np.isfinite(dist.per_pair)
    n_pairs, families = int(sel.sum()), len(set(pairs.family[sel]))
    floor_note = ""
    if pix is not None:
        d_pix_p, d_pix_n = (_finite_mean(pix.per_pair[pairs.factor == f]) for f in (p, n))
        silent = [f for f, d in ((p, d_pix_p), (n, d_pix_n)) if not np.isfinite(d)]
        if silent:
            floor_note = (f"n/a: no {silent[0]} twin pair diverges from its original (the change leaves "
                          f"every trajectory as it was), so there is nothing to be sensitive to")
        elif not (d_pix_p >= params.pixel_floor * d_pix_n):
            floor_note = (f"n/a: the {p} change moves the pixels by {d_pix_p:.3g}, below {params.pixel_floor:g} x the "
                          f"{n} change's {d_pix_n:.3g}")
    if floor_note:
        rows.append(_row(item.label, "sensitivity_ratio", np.nan, factor=p, versus=n, note=floor_note, n=n_pairs, n_families=families, **base))
        if item is not pixels:
            rows.append(_row(item.label, "sensitivity_vs_pixels", np.nan, factor=p, versus=n, note=floor_note, n=n_pairs, n_families=families, **base))
        return rows
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = means[p] / means[n]
        ratio_reps = replicates[p] / replicates[n]
    low, high = percentile_interval(ratio_reps)
    note = "" if pix is not None else "no pixels store in the run: the pixel-distance floor was not checked"
    rows.append(_row(item.label, "sensitivity_ratio", ratio, factor=p, versus=n, ci_low=low, ci_high=high, n=n_pairs,
                     n_families=families, note=note, **base))
    if pix is None or item is pixels:
        return rows
    both = np.isfinite(dist.per_pair) & np.isfinite(pix.per_pair)
    mine = np.where(both, dist.per_pair, np.nan)
    theirs = np.where(both, pix.per_pair, np.nan)

    def ratio_of(values, keep_p, keep_n):
        with np.errstate(invalid="ignore", divide="ignore"):
            return weighted_means(values, keep_p, inverse, counts) / weighted_means(values, keep_n, inverse, counts)

    is_p, is_n = pairs.factor == p, pairs.factor == n
    with np.errstate(invalid="ignore", divide="ignore"):
        value = (np.nanmean(mine[is_p]) / np.nanmean(mine[is_n])) / (np.nanmean(theirs[is_p]) / np.nanmean(theirs[is_n]))
        reps = ratio_of(mine, is_p, is_n) / ratio_of(theirs, is_p, is_n)
    low, high = percentile_interval(reps)
    verdict = ""
    if np.isfinite(high) and high < 1:
        verdict = "over-invariant: less sensitive to this physics change (relative to the nuisance) than pixels, interval below 1"
    elif np.isfinite(low) and low > 1:
        verdict = "more sensitive than pixels (interval above 1)"
    rows.append(_row(item.label, "sensitivity_vs_pixels", value, factor=p, versus=n, ci_low=low, ci_high=high,
                     n=int((both & (is_p | is_n)).sum()), n_families=len(set(pairs.family[both & (is_p | is_n)])),
                     note=verdict, **base))
    return rows


def _equivariance_rows(item, pairs, layer, pooling, physics, seed, folds, params, base) -> list[dict]:
    if pooling != "token_mean":
        return []
    rows = []
    latents = _pair_latents(item, layer, pooling)
    diff = np.nanmean(latents[pairs.twin] - latents[pairs.original], axis=1)  # (P, D)
    for factor in physics:
        keep = (pairs.factor == factor) & np.isfinite(pairs.change) & np.isfinite(diff).all(axis=1)
        families = len(set(pairs.family[keep]))
        if families < 4:
            rows.append(_row(item.label, "equivariance_r2", factor=factor, n=int(keep.sum()), n_families=families,
                             note=f"n/a: {families} families with a recorded {factor} change; grouped CV needs 4", **base))
            continue
        r2, low, high = equivariance_r2(diff[keep], pairs.change[keep], pairs.family[keep], folds=folds, seed=seed,
                                        n_boot=params.n_boot)
        rows.append(_row(item.label, "equivariance_r2", r2, factor=factor, ci_low=low, ci_high=high, n=int(keep.sum()),
                         n_families=families, note="target: log(new/old) of the factor; ridge on the time-mean latent difference", **base))
    return rows


# -- disentanglement --------------------------------------------------------------------------
def clip_factors(labels, rows: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Clip-level factors of slot 0 (the object the physics twins change) and why others are absent."""
    factors, missing = {}, {}
    for name, (label, reduce, _) in FACTORS.items():
        if not labels.has(label):
            missing[name] = f"the store has no {label} label"
            continue
        values = np.asarray(labels.get(label), dtype=np.float64)[rows]
        if reduce == "slot0":
            values = values[:, 0]
        elif reduce == "norm":
            values = np.linalg.norm(values[:, 0], axis=-1)
        elif reduce == "hue":
            hues = np.array([colorsys.rgb_to_hsv(*rgb)[0] for rgb in np.nan_to_num(values[:, 0])])
            values = np.floor(hues * HUE_SECTORS) % HUE_SECTORS
        if not np.isfinite(values).all():
            missing[name] = f"{label} is missing (NaN) for some clips"
            continue
        factors[name] = values
    return factors, missing


def _disentanglement_rows(task: tuple[str, int, np.ndarray, str], factors, families: np.ndarray, params: StructureParams,
                          seed: int, folds: int) -> list[dict]:
    """DCI and MIG rows of one (store label, layer, clip-mean codes, control) task (run by the stage's executor)."""
    label, layer, codes, control = task
    rows = []
    categorical = tuple(name for name, (_, _, cat) in FACTORS.items() if cat)
    x = codes - codes.mean(axis=0)
    if control == "rotation":
        x = x @ random_rotation(x.shape[1], params.rotation_seed)
    base = dict(layer=layer, pooling="clip_mean", control=control, n=len(x), n_families=len(set(families)))
    method_note = f"importance: {params.dci_method}"
    result = dci(x, factors, families, categorical=categorical, method=params.dci_method, folds=folds, seed=seed)
    rows.append(_row(label, "dci_disentanglement", result.disentanglement, note=method_note, **base))
    rows.append(_row(label, "dci_completeness", result.completeness, note=method_note, **base))
    for name, value in result.completeness_per_factor.items():
        rows.append(_row(label, "dci_completeness", value, factor=name, note=method_note, **base))
    for name, value in result.informativeness.items():
        kind = result.informativeness_kind[name]
        truth, pred = result.predictions[name]
        low, high = bootstrap_interval(_INFORMATIVENESS[kind], truth, pred, families, n_boot=params.n_boot, seed=seed)
        rows.append(_row(label, f"dci_informativeness_{kind}", value, factor=name, ci_low=low, ci_high=high,
                         note=f"{method_note}; out-of-fold, {'higher' if kind == 'accuracy' else 'lower'} is better", **base))
    for name, reason in result.refused.items():
        rows.append(_row(label, "dci_disentanglement", factor=name, note=f"n/a: {reason}", **base))
    discrete = {name: discretise_factor(values, FACTORS[name][2]) for name, values in factors.items()}
    gap = mig(x, discrete)
    for name, value in gap.per_factor.items():
        rows.append(_row(label, "mig", value, factor=name, note="20 equal-width bins per latent", **base))
    for name, reason in gap.refused.items():
        rows.append(_row(label, "mig", factor=name, note=f"n/a: {reason}", **base))
    rows.append(_row(label, "mig", gap.value, note=f"mean over {len(gap.per_factor)} factors", **base))
    return rows


_INFORMATIVENESS = {
    "nrmse": lambda t, p: float(np.sqrt(np.mean((t - p) ** 2)) / max(np.std(t), 1e-12)),
    "error_rate": lambda t, p: float(np.mean(t != p)),
    "accuracy": lambda t, p: float(np.mean(t == p)),
}


# -- similarity -------------------------------------------------------------------------------
def _cka_rows(inputs, params: StructureParams) -> list[dict]:
    rows = []
    codes = {}
    for item in inputs:
        for layer in params.layers_of(item.store.layers):
            if "mean" in item.store.feature_kinds(layer):
                codes[(item.label, layer)] = np.asarray(item.features(layer, "mean"), dtype=np.float64)
    keys = list(codes)
    order = {item.label: i for i, item in enumerate(inputs)}
    for i, (store_a, layer_a) in enumerate(keys):
        for store_b, layer_b in keys[i:]:
            if order[store_b] < order[store_a]:
                continue
            x, y = codes[(store_a, layer_a)], codes[(store_b, layer_b)]
            for metric, debiased in (("cka_linear", False), ("cka_debiased", True)):
                value = linear_cka(x, y, debiased=debiased) if len(x) >= 4 else np.nan
                note = "" if np.isfinite(value) else "n/a: a self-similarity estimate is not positive (constant code or too few clips)"
                rows.append(_row(store_a, metric, value, layer=layer_a, pooling="clip_mean", versus=store_b,
                                 versus_layer=layer_b, n=len(x), note=note))
    return rows


# -- the stage --------------------------------------------------------------------------------
def _invariance_part(context: StageContext, clips: pd.DataFrame, params: StructureParams, notes: list[str]) -> list[dict]:
    has_twins = {"kind", "counterfactual_factor", "family_id"} <= set(clips)
    pairs = twin_pairs(clips) if has_twins else None
    if pairs is None or len(pairs) == 0:
        notes.append("no counterfactual twins in the stores (generate worlds with --counterfactuals)")
        return []
    originals = np.flatnonzero(clips["kind"].to_numpy() == "original")
    context.log(f"structure: invariance on {len(pairs)} twin pairs")
    return _invariance_rows(context.inputs, pairs, originals, params, context.seed, context.folds)


def _disentanglement_part(context: StageContext, clips: pd.DataFrame, params: StructureParams, notes: list[str]) -> list[dict]:
    kinds = clips["kind"].to_numpy() if "kind" in clips else np.array(["original"] * len(clips))
    scored = np.flatnonzero(np.isin(kinds, ("original", "counterfactual")))
    factors, missing = clip_factors(context.inputs[0].labels, scored)
    groups = pd.Series(clips["family_id"].to_numpy()[scored], index=scored)
    if not factors or groups.nunique() < 4:
        notes.append("no clip-level factors over at least 4 families (DCI and MIG need the world file's labels)")
        return []
    pieces: list[list[dict] | int] = []  # rows as they are, or the index of the task whose rows go there
    tasks = []
    for item in context.inputs:
        pieces.append([_row(item.label, "dci_disentanglement", factor=name, note=f"n/a: {reason}") for name, reason in missing.items()])
        for layer in params.layers_of(item.store.layers):
            if "mean" in item.store.feature_kinds(layer):
                codes = np.asarray(item.features(layer, "mean"), dtype=np.float64)[groups.index.to_numpy()]
                for control in ("none", "rotation"):
                    pieces.append(len(tasks))
                    tasks.append((item.label, layer, codes, control))
    context.log(f"structure: DCI and MIG of {len(tasks) // 2} store x layer codes (each also randomly rotated)")
    fit = functools.partial(_disentanglement_rows, factors=factors, families=groups.values, params=params, seed=context.seed,
                            folds=context.folds)
    results = context.map(fit, tasks)
    return [row for piece in pieces for row in (results[piece] if isinstance(piece, int) else piece)]


def run(context: StageContext) -> pd.DataFrame:
    """The structure table of a run (see the module docstring)."""
    params = StructureParams.parse(dict(context.params), context.seed)
    if not context.inputs:
        raise StageSkipped("no stores")
    clips = clip_table(context.inputs[0].store)
    rows: list[dict] = []
    notes: list[str] = []
    if "invariance" in params.parts:
        rows += _invariance_part(context, clips, params, notes)
    if "disentanglement" in params.parts:
        rows += _disentanglement_part(context, clips, params, notes)
    if "similarity" in params.parts:
        context.log("structure: CKA between layers and stores")
        rows += _cka_rows(context.inputs, params)
    if not rows:
        raise StageSkipped("; ".join(notes) or "nothing to measure")
    rows += [_row("", "structure", note=f"n/a: {note}") for note in notes]
    return pd.DataFrame(rows, columns=list(COLUMNS))


register_stage(Stage(
    "structure", "Structure: invariance, disentanglement, similarity", run, needs=("time", "object", "mean", "pairs"),
    description="Twin-based invariance and equivariance, DCI and MIG against clip-level factors, and linear CKA.",
))
