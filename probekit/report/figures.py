"""Figures of a run, as matplotlib figures (the report inlines them; notebooks show them).

Every function takes the tidy results table (``run.results``) and returns a
:class:`matplotlib.figure.Figure`. Colours are fixed per store (encoder) through
:func:`store_colors`, so one encoder has one colour in every figure; readouts are told apart by
line style and marker.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from probekit.formats.run import sentinel_indices
from probekit.errors import BadOptionError
from probekit.report.diagnosis import (
    LOWER_IS_BETTER,
    METRIC_NAMES,
    READOUT_ORDER,
    STORE_CONTROLS,
    TargetDiagnosis,
    better,
    chance_level,
    fmt,
    primary_metric,
    probe_stores,
    selected_layer,
    target_unit,
    selected_readout,
    target_name,
)

READOUT_STYLES = {
    "linear": dict(linestyle="-", marker="o"),
    "spatial": dict(linestyle=(0, (5, 1)), marker="v"),
    "object": dict(linestyle="--", marker="s"),
    "mlp": dict(linestyle="-.", marker="^"),
    "attentive": dict(linestyle=":", marker="D"),
}
PATTERN_COLORS = {
    "encoded": "#1b7837",
    "entangled": "#b35806",
    "over-invariant": "#762a83",
    "not carried": "#737373",
    "skipped": "#bdbdbd",
}



def error_bars(value, low, high) -> np.ndarray:
    """Matplotlib's ``[[below], [above]]`` error bars of an interval, never negative.

    A bootstrap interval need not contain its point estimate (a score outside its own
    percentile interval); the bar then ends at the estimate instead of failing to draw.
    """
    value, low, high = (np.asarray(v, dtype=float) for v in (value, low, high))
    return np.stack([np.clip(value - low, 0, None), np.clip(high - value, 0, None)])

def _subplots(*args, figsize: tuple[float, float], layout: str = "constrained", **kwargs):
    """A figure outside pyplot's state (nothing to close, no double display in notebooks)."""
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(*args, **kwargs)


def store_colors(stores: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """One colour per store label, in the given order (seaborn's colour-blind palette)."""
    import seaborn as sns

    palette = sns.color_palette("colorblind", max(len(stores), 1))
    return {store: tuple(palette[i % len(palette)]) for i, store in enumerate(stores)}


def metric_axis_label(metric: str, unit: str = "") -> str:
    """Axis label of a metric, with its unit."""
    name = METRIC_NAMES.get(metric, metric)
    if metric == "geodesic_deg":
        return f"{name} (degrees, lower is better)"
    if metric == "mae":
        return f"{name} ({unit or 'target units'}, lower is better)"
    if metric == "selectivity":
        return f"{name}: task − control task (unitless)"
    return f"{name} on held-out families (unitless)"


#: Opacity of 95% interval bands (light, so that several stores' bands stay readable).
BAND_ALPHA = 0.08
#: x-axis label of layer figures, absolute and relative.
LAYER_AXIS = "encoder layer (0 = embedding output)"
DEPTH_AXIS = "relative depth: layer / deepest layer (0 = embedding output, 1 = last layer)"


def deepest_layers(results: pd.DataFrame, stores: Sequence[str], n_layers: dict[str, int] | None = None) -> dict[str, int]:
    """The deepest layer index of each store: ``n_layers[store] - 1`` when the store's encoder
    depth is known (``n_encoder_layers`` of the store), else its deepest probed layer."""
    results = sentinel_indices(results)
    n_layers = n_layers or {}
    found = {}
    for store in stores:
        if n_layers.get(store):
            found[store] = int(n_layers[store]) - 1
        else:
            layers = results.loc[(results["store"] == store) & (results["layer"] >= 0), "layer"]
            found[store] = int(layers.max()) if len(layers) else 0
    return found


def depth_scale(results: pd.DataFrame, stores: Sequence[str], n_layers: dict[str, int] | None = None) -> dict[str, float] | None:
    """Per store, the factor that turns a layer index into relative depth, when stores with more
    than one layer differ in depth (else None: plot absolute layers)."""
    results = sentinel_indices(results)
    deepest = deepest_layers(results, stores, n_layers)
    multi = {s: d for s, d in deepest.items()
             if results.loc[(results["store"] == s) & (results["layer"] >= 0), "layer"].nunique() > 1 and d > 0}
    if len(set(multi.values())) <= 1:
        return None
    return {s: 1.0 / d if d > 0 else 0.0 for s, d in deepest.items()}


def band(ax, x, low, high, color) -> None:
    """A 95% interval as a light band with thin edges (readable where several overlap)."""
    ax.fill_between(x, low, high, color=color, alpha=BAND_ALPHA, linewidth=0)
    for edge in (low, high):
        ax.plot(x, edge, color=color, linewidth=0.5, alpha=0.45)


def _stores(results: pd.DataFrame, stores: Sequence[str] | None) -> list[str]:
    return list(stores) if stores is not None else probe_stores(results)


def _rows(results: pd.DataFrame, target: str, slot: int, scenario: str = "all") -> pd.DataFrame:
    rows = results[(results["target"] == target) & (results["slot"] == slot) & (results["scenario"] == scenario)]
    if rows.empty:
        known = ", ".join(sorted(set(results["target"])))
        raise BadOptionError(f"no results for target {target!r} slot {slot}; targets in this run: {known}")
    return rows


def layer_curves(
    results: pd.DataFrame,
    target: str,
    slot: int = -1,
    *,
    metric: str | None = None,
    selection: pd.DataFrame | None = None,
    stores: Sequence[str] | None = None,
    colors: dict | None = None,
    scenario: str = "all",
    n_layers: dict[str, int] | None = None,
    slot_roles: str = "",
) -> Figure:
    """Score against layer for one target: one line per store and readout, 95% intervals as
    bands, the nuisance and mask-geometry controls, the ceiling and chance drawn in.

    When stores of different depth are drawn, the x axis is relative depth (layer divided by the
    store's deepest layer), so that a 6-layer and a 24-layer encoder share one axis.

    Parameters
    ----------
    results
        The tidy results table (``run.results``).
    target, slot
        The target; ``slot=-1`` for scene-level targets.
    metric
        Metric to plot; the target's primary metric by default.
    selection
        ``run.selection``; layers chosen by inner CV are marked with a star.
    stores
        Store labels to draw, in colour order; all by default.
    colors
        Colour per store (see :func:`store_colors`).
    scenario
        ``all`` or one scenario name.
    n_layers
        Layers of each store's encoder (the stores' ``n_encoder_layers``), for relative depth;
        the deepest probed layer stands in where missing.
    slot_roles
        What the slot is, for the title (``"slot 0: falling (drop), mover (collide)"``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    results = sentinel_indices(results)
    selection = sentinel_indices(selection) if selection is not None else None
    rows = _rows(results, target, slot, scenario)
    metric = metric or primary_metric(rows[rows["control"].isin(STORE_CONTROLS)])
    if metric is None:
        raise BadOptionError(f"target {target!r} slot {slot} has no finite score to plot")
    stores = _stores(results, stores)
    colors = colors or store_colors(stores)
    selection = pd.DataFrame() if selection is None else selection
    unit = target_unit(results, target, slot)
    rows = rows[rows["metric"] == metric]
    fig, ax = _subplots(figsize=(6.4, 5.0), layout="constrained")
    scale = depth_scale(results, stores, n_layers)

    def at(store: str, layers) -> np.ndarray:
        layers = np.asarray(layers, dtype=float)
        return layers * scale.get(store, 1.0) if scale is not None else layers

    all_layers = sorted({int(v) for v in rows.loc[rows["layer"] >= 0, "layer"]})
    span = (0.0, 1.0) if scale is not None else (min(all_layers), max(all_layers)) if all_layers else (0, 1)
    if span[0] == span[1]:
        span = (span[0] - 0.5, span[1] + 0.5)
    drawn_controls: set = set()
    for store in stores:
        srows = rows[rows["store"] == store]
        color = colors.get(store, "k")
        for readout in [r for r in READOUT_ORDER if r in set(srows["readout"])] + sorted(set(srows["readout"]) - set(READOUT_ORDER)):
            main = srows[(srows["readout"] == readout) & srows["control"].isin(STORE_CONTROLS)].sort_values("layer")
            main = main[np.isfinite(main["score"].to_numpy(dtype=float))]
            if main.empty:
                continue
            style = READOUT_STYLES.get(readout, dict(linestyle="-", marker="x"))
            label = f"{store} · {readout}"
            layer_index, y = main["layer"].to_numpy(), main["score"].to_numpy(dtype=float)
            x = at(store, layer_index)
            lo, hi = main["ci_low"].to_numpy(dtype=float), main["ci_high"].to_numpy(dtype=float)
            single_layer_store = srows.loc[srows["layer"] >= 0, "layer"].nunique() == 1
            if len(x) == 1 and single_layer_store:  # a one-layer store (pixels): a level across the plot
                ax.hlines(y[0], *span, color=color, linestyle=style["linestyle"], linewidth=1.6, label=f"{label} (layer {layer_index[0]})")
                ax.axhspan(lo[0], hi[0], xmin=0, xmax=1, color=color, alpha=BAND_ALPHA / 2, linewidth=0)
            elif len(x) == 1:  # a readout fitted on one layer only: a point with its interval
                ax.errorbar(x, y, yerr=error_bars(y, lo, hi), color=color, marker=style["marker"], markersize=6,
                            linestyle="none", capsize=3, label=f"{label} (layer {layer_index[0]} only)")
            else:
                ax.plot(x, y, color=color, linewidth=1.8, markersize=4.5, label=label, **style)
                band(ax, x, lo, hi, color)
            chosen = selected_layer(selection, store, target, slot, readout)
            if chosen is not None and chosen in set(layer_index):
                yc = y[list(layer_index).index(chosen)]
                star = selected_readout(selection, store, target, slot) == readout
                ax.plot(at(store, [chosen]), [yc], marker="*", markersize=15 if star else 10, color=color,
                        markeredgecolor="black", markeredgewidth=0.6, linestyle="none", zorder=5)
            for control, cstyle in (("nuisance", (0, (4, 2))), ("geometry", (0, (1, 1.5)))):
                crow = srows[(srows["readout"] == readout) & (srows["control"] == control)].sort_values("layer")
                crow = crow[np.isfinite(crow["score"].to_numpy(dtype=float))]
                if crow.empty:
                    continue
                levels = crow["score"].to_numpy(dtype=float)
                key = (store, control, round(float(levels.mean()), 4), bool(np.ptp(levels) > 1e-9))
                if key in drawn_controls:  # the same level for several readouts is drawn once
                    continue
                drawn_controls.add(key)
                what = "nuisance baseline" if control == "nuisance" else f"{readout} mask-geometry baseline"
                if crow["layer"].nunique() > 1:
                    ax.plot(at(store, crow["layer"]), crow["score"], color=color, linestyle=cstyle, linewidth=1.0, alpha=0.8,
                            label=f"{store} · {what}")
                else:
                    ax.hlines(float(crow["score"].iloc[0]), *span, color=color, linestyle=cstyle, linewidth=1.0,
                              alpha=0.8, label=f"{store} · {what}")
    shared = rows[~rows["store"].isin(stores) & rows["control"].isin(["nuisance", "geometry"])]
    shared = shared[np.isfinite(shared["score"].to_numpy(dtype=float))]
    for (control, readout), group in shared.groupby(["control", "readout"], sort=False):
        what = "nuisance baseline" if control == "nuisance" else "mask-geometry baseline"
        ax.hlines(float(_best_score(group, metric)), *span, color="0.3", linewidth=1.1,
                  linestyle=(0, (4, 2)) if control == "nuisance" else (0, (1, 1.5)),
                  label=f"{what} ({readout} readout on labels only)")
    ceiling = rows[(rows["control"] == "ceiling")]
    ceiling = ceiling[np.isfinite(ceiling["score"].to_numpy(dtype=float))]
    if len(ceiling):
        best = ceiling.iloc[int(np.argmax([better(metric, s, 0.0) for s in ceiling["score"]]))]
        ax.axhline(float(best["score"]), color="black", linestyle=(0, (6, 3)), linewidth=1.2,
                   label=f"ceiling: {best['readout']} on ground-truth masks + depth")
    chance = chance_level(metric, results[(results["target"] == target) & (results["slot"] == slot)])
    if chance is not None:
        ax.axhline(chance, color="0.45", linewidth=0.9, label=f"chance ({fmt(chance)})")
    ax.set_xlabel(DEPTH_AXIS if scale is not None else LAYER_AXIS)
    ax.set_ylabel(metric_axis_label(metric, unit))
    ax.set_title(f"{target_name(target, slot)} (target in {unit if unit not in ('', '1') else 'no unit'})"
                 + ("" if scenario == "all" else f", scenario {scenario}") + (f"\n{slot_roles}" if slot_roles else ""), fontsize=10)
    if scale is not None:
        ax.set_xticks(np.linspace(0, 1, 5))
    elif all_layers:
        ax.set_xticks(all_layers)
    _clip_score_axis(ax.set_ylim, ax.get_ylim(), metric, chance)
    if metric in LOWER_IS_BETTER:
        ax.invert_yaxis()
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=7.5, frameon=False,
               title="★ = layer chosen by inner CV (large: the chosen readout)", title_fontsize=7.5)
    return fig


def _clip_score_axis(set_lim, current: tuple[float, float], metric: str, chance: float | None) -> None:
    """Keep a score axis readable: R² intervals of useless probes can reach -1000; show down to
    0.5 below chance at most (what lies beyond is cut at the axis) and up to 1."""
    if metric in LOWER_IS_BETTER or chance is None:
        return
    low, high = current
    floor = chance - 0.5 if metric == "r2" else max(chance - 0.5, 0.0)
    set_lim(max(low, floor), min(high, 1.02))


def _best_score(rows: pd.DataFrame, metric: str) -> float:
    scores = rows["score"].to_numpy(dtype=float)
    return float(scores[int(np.argmax([better(metric, v, 0.0) for v in scores]))])


def _normalised(metric: str, score: float, chance: float | None) -> float:
    """Score on a common scale: 0 = chance, 1 = perfect."""
    if not np.isfinite(score):
        return math.nan
    if metric == "r2":
        return score
    if metric == "geodesic_deg":
        return 1.0 - score / 90.0
    if metric in ("balanced_accuracy", "auroc", "accuracy") and chance is not None and chance < 1:
        return (score - chance) / (1.0 - chance)
    return math.nan


def layer_heatmap(
    results: pd.DataFrame,
    *,
    selection: pd.DataFrame | None = None,
    stores: Sequence[str] | None = None,
) -> Figure:
    """Targets x layers for every store (one panel each), the readout chosen by inner CV.

    Cells are coloured on a common scale (0 = chance, 1 = perfect: R² as is, balanced accuracy
    and AUROC rescaled from chance, geodesic error as 1 - deg/90) and annotated with the raw score.
    """
    results = sentinel_indices(results)
    selection = sentinel_indices(selection) if selection is not None else None
    selection = pd.DataFrame() if selection is None else selection
    stores = [s for s in _stores(results, stores) if s in set(results["store"])]
    main = results[results["control"].isin(STORE_CONTROLS) & (results["scenario"] == "all")]
    panels = []
    for store in stores:
        srows = main[main["store"] == store]
        layers = sorted({int(v) for v in srows.loc[srows["layer"] >= 0, "layer"]})
        labels, values, raw = [], [], []
        for (target, slot), trows in srows.groupby(["target", "slot"], sort=False):
            metric = primary_metric(trows)
            if metric is None:
                continue
            readout = selected_readout(selection, store, target, int(slot))
            if readout is None or readout not in set(trows["readout"]):
                means = trows[trows["metric"] == metric].groupby("readout")["score"].max()
                readout = max(means.index, key=lambda r: better(metric, means[r], 0.0))
            chance = chance_level(metric, results[(results["store"] == store) & (results["target"] == target) & (results["slot"] == slot)])
            cells = trows[(trows["readout"] == readout) & (trows["metric"] == metric)].set_index("layer")["score"]
            raw.append([float(cells.get(layer, np.nan)) for layer in layers])
            values.append([_normalised(metric, v, chance) for v in raw[-1]])
            labels.append(f"{target_name(target, int(slot))} · {readout} ({METRIC_NAMES.get(metric, metric)})")
        if labels:
            panels.append((store, layers, labels, np.array(values, dtype=float), np.array(raw, dtype=float)))
    if not panels:
        raise BadOptionError("the results table has no finite scores to draw a heatmap of")
    n_rows = max(len(p[2]) for p in panels)
    widths = [max(len(p[1]), 1) + 1.5 for p in panels]
    fig, axes = _subplots(1, len(panels), figsize=(min(2.6 + 0.75 * sum(widths), 14), 1.2 + 0.42 * n_rows),
                             layout="constrained", width_ratios=widths, squeeze=False)
    image = None
    for ax, (store, layers, labels, values, raw) in zip(axes[0], panels):
        image = ax.imshow(np.clip(values, -0.2, 1.0), cmap="viridis", vmin=-0.2, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(layers)), [str(v) for v in layers])
        ax.set_yticks(range(len(labels)), labels if ax is axes[0][0] else [""] * len(labels), fontsize=8)
        ax.set_title(store, fontsize=10)
        if len(layers) * len(labels) <= 400:
            for i in range(raw.shape[0]):
                for j in range(raw.shape[1]):
                    if np.isfinite(raw[i, j]):
                        dark = np.isfinite(values[i, j]) and values[i, j] < 0.55
                        ax.text(j, i, f"{raw[i, j]:.2f}", ha="center", va="center", fontsize=7,
                                color="white" if dark else "black")
    bar = fig.colorbar(image, ax=axes[0].tolist(), shrink=0.9)
    bar.set_label("above chance (0 = chance, 1 = perfect)")
    fig.supxlabel("encoder layer (0 = embedding output)", fontsize=10)
    fig.suptitle("held-out score per target and layer (readout chosen by inner CV; cell text = raw score)", fontsize=10)
    return fig


def selectivity(
    results: pd.DataFrame,
    *,
    stores: Sequence[str] | None = None,
    colors: dict | None = None,
    n_layers: dict[str, int] | None = None,
) -> Figure:
    """Control-task selectivity (task score minus control-task score) against layer: one panel
    per target, colour per store, line style per readout; relative depth on x when stores differ
    in depth (see :func:`layer_curves`)."""
    results = sentinel_indices(results)
    rows = results[(results["metric"] == "selectivity") & (results["scenario"] == "all") & (results["layer"] >= 0)]
    rows = rows[np.isfinite(rows["score"].to_numpy(dtype=float))]
    if rows.empty:
        raise BadOptionError("the results table has no selectivity rows (metric 'selectivity')")
    stores = [s for s in _stores(results, stores) if s in set(rows["store"])]
    colors = colors or store_colors(stores)
    scale = depth_scale(results, stores, n_layers)
    targets = list(rows[["target", "slot"]].drop_duplicates().itertuples(index=False))
    n_cols = min(3, len(targets))
    n_rows = math.ceil(len(targets) / n_cols)
    fig, axes = _subplots(n_rows, n_cols, figsize=(3.6 * n_cols + 1.8, 2.7 * n_rows), layout="constrained",
                             squeeze=False, sharey=True)
    handles = {}
    for ax, (target, slot) in zip(axes.flat, targets):
        trows = rows[(rows["target"] == target) & (rows["slot"] == slot)]
        for (store, readout), group in trows.groupby(["store", "readout"], sort=False):
            group = group.sort_values("layer")
            style = READOUT_STYLES.get(readout, dict(linestyle="-", marker="x"))
            x = group["layer"].to_numpy(dtype=float) * (scale.get(store, 1.0) if scale is not None else 1.0)
            (line,) = ax.plot(x, group["score"], color=colors.get(store, "k"), markersize=4, **style)
            band(ax, x, group["ci_low"].to_numpy(dtype=float), group["ci_high"].to_numpy(dtype=float), colors.get(store, "k"))
            handles[f"{store} · {readout}"] = line
        ax.axhline(0.0, color="0.45", linewidth=0.9)
        ax.set_title(target_name(target, int(slot)), fontsize=9)
        ax.set_xlabel("relative depth (layer / deepest layer)" if scale is not None else "encoder layer")
        if scale is None:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    for ax in axes.flat[len(targets):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("selectivity (unitless)")
    fig.legend(list(handles.values()), list(handles.keys()), loc="outside right upper", fontsize=7.5, frameon=False)
    fig.suptitle("control-task selectivity: task score − control-task score (0 = the probe memorises)", fontsize=10)
    return fig


def diagnosis_summary(diagnoses: Iterable[TargetDiagnosis], *, colors: dict | None = None) -> Figure:
    """The chosen readout's score per target with its interval, beside its baseline control,
    the ceiling, and chance, coloured by store; the pattern is written at the right."""
    items = [d for d in diagnoses if d.chosen is not None]
    if not items:
        raise BadOptionError("no diagnosed target to summarise")
    stores = list(dict.fromkeys(d.store for d in items))
    colors = colors or store_colors(stores)
    metrics = list(dict.fromkeys(d.metric for d in items))
    heights = [sum(d.metric == m for d in items) for m in metrics]
    fig, axes = _subplots(len(metrics), 1, figsize=(8.6, 0.9 + 0.36 * len(items) + 0.5 * len(metrics)),
                             layout="constrained", height_ratios=heights, squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics):
        group = [d for d in items if d.metric == metric]
        for i, d in enumerate(group):
            ev = d.chosen
            y = len(group) - 1 - i
            ax.errorbar(ev.score.score, y, xerr=error_bars([ev.score.score], [ev.score.ci_low], [ev.score.ci_high]),
                        fmt="o", color=colors.get(d.store, "k"), capsize=3, markersize=6)
            if np.isfinite(ev.baseline.score):
                ax.plot(ev.baseline.score, y, marker="|", markersize=14, markeredgewidth=2.2, color="0.35")
            if d.ceiling is not None:
                ax.plot(d.ceiling.score, y, marker="^", markersize=6, color="black", linestyle="none")
            ax.text(1.01, y, d.pattern, transform=ax.get_yaxis_transform(), va="center", fontsize=8,
                    color=PATTERN_COLORS.get(d.pattern, "k"), fontweight="bold")
        ax.set_yticks(range(len(group)), [f"{d.store} · {d.name} · {d.chosen_readout} @ L{d.chosen.layer}" for d in reversed(group)], fontsize=8)
        chance = group[0].chance
        if chance is not None:
            ax.axvline(chance, color="0.45", linewidth=0.9)
        _clip_score_axis(ax.set_xlim, ax.get_xlim(), metric, chance)
        ax.set_xlabel(metric_axis_label(metric, group[0].unit))
        ax.grid(True, axis="x", alpha=0.3)
        if metric in LOWER_IS_BETTER:
            ax.invert_xaxis()
    from matplotlib.lines import Line2D

    legend = [Line2D([], [], color=colors[s], marker="o", linestyle="none", label=s) for s in stores]
    legend += [Line2D([], [], color="0.35", marker="|", markersize=12, markeredgewidth=2, linestyle="none", label="required control"),
               Line2D([], [], color="black", marker="^", linestyle="none", label="ceiling"),
               Line2D([], [], color="0.45", label="chance")]
    fig.legend(handles=legend, loc="outside lower center", ncol=min(len(legend), 6), fontsize=8, frameon=False)
    fig.suptitle("chosen readout per target (95% CI over families) against its controls", fontsize=10)
    return fig


#: At most this many distinct whole-number values make a label categorical in the embedding.
MAX_CATEGORIES = 12


def is_categorical(values: np.ndarray) -> bool:
    """Whether values are categories: strings, or few distinct whole numbers (binary labels)."""
    values = np.asarray(values)
    if values.dtype.kind in "OUSb":
        return True
    finite = values[np.isfinite(values.astype(float))].astype(float)
    return bool(len(finite)) and np.all(finite == np.round(finite)) and len(np.unique(finite)) <= MAX_CATEGORIES


def _category_names(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind in "fc":
        return np.array(["n/a" if not np.isfinite(v) else str(int(v)) for v in values], dtype=object)
    return values.astype(str).astype(object)


def umap_embedding(
    features: np.ndarray,
    values: np.ndarray | None = None,
    *,
    title: str,
    color_label: str = "",
    categorical: bool | None = None,
    seed: int = 0,
    colorings: Sequence[tuple[np.ndarray, str]] | None = None,
) -> Figure:
    """A 2-D UMAP (umap-learn) of latent vectors, fitted once and drawn once per colouring.

    Parameters
    ----------
    features
        (n_points, D) latents (e.g. one layer's latents, one point per clip).
    values
        (n_points,) the colour: a continuous target, or categories (strings, or few whole
        numbers such as a binary label: drawn with categorical colours and a legend).
    title, color_label
        Figure title and colour-bar/legend label (with the target's unit).
    categorical
        Force categorical (True) or continuous (False) colours; by default decided from the
        values (:func:`is_categorical`).
    seed
        UMAP's random state.
    colorings
        Several (values, label) pairs: one panel each over the same embedding (replaces
        ``values``/``color_label``).
    """
    from probekit.report.umap_cache import import_umap

    umap = import_umap()

    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or len(features) < 5:
        raise BadOptionError(f"UMAP needs at least 5 latent vectors, got shape {features.shape}")
    panels = [(np.asarray(v), label) for v, label in colorings] if colorings else [(np.asarray(values), color_label)]
    reducer = umap.UMAP(n_neighbors=min(15, len(features) - 1), min_dist=0.2, random_state=seed, n_jobs=1)
    embedding = reducer.fit_transform(features)
    fig, axes = _subplots(1, len(panels), figsize=(5.4 * len(panels) + 1.0, 4.6), layout="constrained", squeeze=False)
    for ax, (panel_values, label) in zip(axes[0], panels):
        as_categories = is_categorical(panel_values) if categorical is None or colorings else categorical
        if as_categories:
            import seaborn as sns

            names = _category_names(panel_values)
            categories = sorted(dict.fromkeys(names), key=lambda c: (c == "n/a", c))
            palette = sns.color_palette("colorblind", len(categories))
            for category, color in zip(categories, palette):
                keep = names == category
                ax.scatter(embedding[keep, 0], embedding[keep, 1], s=14, color="0.75" if category == "n/a" else color,
                           label=f"{category} ({int(keep.sum())})", alpha=0.85, linewidths=0)
            ax.legend(title=label, fontsize=8, title_fontsize=8, frameon=False, markerscale=1.5, loc="best")
        else:
            points = ax.scatter(embedding[:, 0], embedding[:, 1], c=panel_values.astype(float), s=14, cmap="viridis",
                                alpha=0.85, linewidths=0)
            fig.colorbar(points, ax=ax).set_label(label)
        ax.set_xlabel("UMAP 1 (arbitrary units)")
        ax.set_ylabel("UMAP 2 (arbitrary units)")
    fig.suptitle(title, fontsize=10)
    return fig


def frame_strip(strips) -> Figure:
    """Frames of one clip per scenario (rows), each object's visible mask outlined in its slot's
    colour, and a legend naming each slot's role in that scenario.

    Parameters
    ----------
    strips
        :class:`probekit.report.sources.ScenarioFrames` items.
    """
    import seaborn as sns
    from matplotlib.lines import Line2D

    strips = list(strips)
    if not strips:
        raise BadOptionError("no scenario frames to draw")
    n_cols = max(len(s.frames) for s in strips)
    n_slots = max([len(s.roles) for s in strips] + [int(s.segmentation.max()) + 1 for s in strips])
    palette = sns.color_palette("bright", max(n_slots, 1))
    fig, axes = _subplots(len(strips), n_cols, figsize=(1.55 * n_cols + 2.6, 1.6 * len(strips) + 0.4), layout="constrained",
                          squeeze=False)
    for row, strip in zip(axes, strips):
        for ax, frame, rgb, seg in zip(row, strip.frames, strip.rgb, strip.segmentation):
            ax.imshow(rgb, interpolation="nearest")
            for slot in range(n_slots):
                mask = seg == slot
                if mask.any() and not mask.all():
                    ax.contour(mask.astype(float), levels=[0.5], colors=[palette[slot]], linewidths=1.2)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"frame {int(frame)}", fontsize=7)
        for ax in row[len(strip.frames):]:
            ax.set_visible(False)
        row[0].set_ylabel(strip.scenario, fontsize=9)
        handles = [Line2D([], [], color=palette[k], linewidth=2, label=f"slot {k}: {role}") for k, role in enumerate(strip.roles)]
        if handles:
            row[len(strip.frames) - 1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.04, 0.5), fontsize=7.5,
                                              frameon=False, title=f"clip {strip.clip_id[:18]}{'…' if len(strip.clip_id) > 18 else ''}", title_fontsize=7)
    fig.suptitle("one clip per scenario: visible masks outlined in the slot's colour", fontsize=9)
    return fig
