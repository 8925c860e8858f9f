"""Figures for notebooks: each function takes a run (or its results table) and returns a
:class:`matplotlib.figure.Figure`, the same figures the HTML report inlines.

>>> import probekit as pk                                         # doctest: +SKIP
>>> run = pk.load_run("runs/demo")
>>> pk.plot.layer_curves(run, "position_camera", slot=0)
>>> pk.plot.heatmap(run)
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from probekit.report import figures
from probekit.report.diagnosis import Thresholds, diagnose
from probekit.report.latents import label_per_point
from probekit.formats.run import sentinel_indices
from probekit.rundir import Run

__all__ = ["layer_curves", "heatmap", "selectivity", "diagnosis_summary", "umap", "frames", "store_colors"]

RunLike = Union[Run, pd.DataFrame]


def _split(run: RunLike) -> tuple[pd.DataFrame, pd.DataFrame, list[str] | None]:
    if isinstance(run, Run):
        view = run.engine_view()
        return view.results, view.selection, view.stores
    if isinstance(run, pd.DataFrame):
        return sentinel_indices(run), pd.DataFrame(), None
    raise TypeError(f"expected a probekit Run (pk.load_run) or a results DataFrame, got {type(run).__name__}")


def store_colors(stores: Sequence[str]) -> dict:
    """The colour of each store (encoder), as every figure uses it."""
    return figures.store_colors(stores)


def _depths_and_roles(run: RunLike) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Encoder depth per store and slot roles per scenario, read from the run's stores and their
    world file when they are on disk (empty otherwise)."""
    if not isinstance(run, Run):
        return {}, {}
    from probekit.report.sources import encoder_depths, slot_roles, world_of

    world, _ = world_of(run)
    return encoder_depths(run), (slot_roles(world) if world is not None else {})


def layer_curves(run: RunLike, target: str, slot: int = -1, *, metric: str | None = None, scenario: str = "all",
                 stores: Sequence[str] | None = None) -> Figure:
    """Score against layer for one target, one line per store and readout, with intervals,
    controls, ceiling and chance (see :func:`probekit.report.figures.layer_curves`); relative
    depth on x when the stores differ in depth, the slot's roles in the title."""
    from probekit.report.sources import slot_role_text

    results, selection, order = _split(run)
    depths, roles = _depths_and_roles(run)
    return figures.layer_curves(results, target, slot, metric=metric, selection=selection,
                                stores=stores or order, scenario=scenario, n_layers=depths,
                                slot_roles=slot_role_text(roles, slot))


def heatmap(run: RunLike, *, stores: Sequence[str] | None = None) -> Figure:
    """Targets x layers per store, the readout chosen by inner CV."""
    results, selection, order = _split(run)
    return figures.layer_heatmap(results, selection=selection, stores=stores or order)


def selectivity(run: RunLike, *, stores: Sequence[str] | None = None) -> Figure:
    """Control-task selectivity against layer, one panel per target."""
    results, _, order = _split(run)
    return figures.selectivity(results, stores=stores or order, n_layers=_depths_and_roles(run)[0])


def diagnosis_summary(run: RunLike, thresholds: Thresholds = Thresholds()) -> Figure:
    """The chosen readout per target against its controls, with the diagnosed pattern."""
    results, selection, order = _split(run)
    scored = [d for d in diagnose(results, selection, thresholds) if d.chosen is not None]
    return figures.diagnosis_summary(scored, colors=figures.store_colors(order or list(dict.fromkeys(d.store for d in scored))))


def umap(store, layer: int, color: np.ndarray | str, *, slot: int = 0, kind: str = "time", seed: int = 0,
         max_points: int = 1500) -> Figure:
    """UMAP of one layer's pooled latents of a store, coloured by a label or given values.

    Parameters
    ----------
    store
        A :class:`probekit.store.Store` (``pk.load_store(path)``).
    layer
        Stored layer index.
    color
        A label name of the store (per step, or ``clip/...``), or an array with one value per point.
    slot
        Object slot of a per-object label.
    kind
        ``time`` (one point per clip and step) or ``mean`` (one point per clip).
    """
    features = np.asarray(store.features(layer, kind), dtype=np.float32)
    flat = features.reshape(-1, features.shape[-1])
    if isinstance(color, str):
        values, is_norm = label_per_point(store, color, slot, kind)
        label = f"‖{color}‖" if is_norm else color
    else:
        values, label = np.asarray(color, dtype=float).reshape(-1), "value"
    if len(values) != len(flat):
        raise ValueError(f"color has {len(values)} values for {len(flat)} latent vectors")
    keep = np.isfinite(flat).all(axis=1) & np.isfinite(values)
    flat, values = flat[keep], values[keep]
    shown = f"{len(flat)} {kind}-pooled latent vectors"
    if len(flat) > max_points:
        pick = np.sort(np.random.default_rng(seed).choice(len(flat), max_points, replace=False))
        flat, values = flat[pick], values[pick]
        shown = f"a seeded subsample of {max_points} of {shown}"
    encoder = store.attrs.get("label") or store.attrs.get("encoder", "store")
    return figures.umap_embedding(flat, values, title=f"{encoder}, layer {layer}: {shown}", color_label=label, seed=seed)


def frames(run: Run, n_frames: int = 5) -> Figure:
    """One clip per scenario with its objects' masks and slot roles, from the world file the
    run's stores were extracted from (see :func:`probekit.report.figures.frame_strip`)."""
    from probekit.errors import FileFormatError
    from probekit.report.sources import scenario_strips, world_of

    world, why = world_of(run)
    if world is None:
        raise FileFormatError(f"{run.path}: no frames to show: {why}")
    return figures.frame_strip(scenario_strips(world, n_frames))
