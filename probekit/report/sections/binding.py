"""Report section of the ``binding`` stage: binding curves per layer, the leakage matrix of each
store's chosen layer, and one frame's ground-truth masks next to the token clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from probekit.errors import FileFormatError
from probekit.report.sections import Evidence, Section, register_evidence, register_section, render_figure

TITLE = "Slot binding of tokens"
#: The clustering whose FG-ARI chooses each store's layer.
CHOICE = ("kmeans", "clip", "fg_ari")


def chosen_layers(table: pd.DataFrame) -> dict[str, int]:
    """Per store, the layer whose k-means clusters score the highest whole-clip FG-ARI."""
    method, scope, metric = CHOICE
    rows = table[(table["method"] == method) & (table["scope"] == scope) & (table["metric"] == metric)]
    return {store: int(group.loc[group["value"].idxmax(), "layer"]) for store, group in rows.groupby("store", sort=False)}


def _curves(table: pd.DataFrame, stores: list[str]):
    from probekit.report.figures import _subplots, store_colors

    colors = store_colors(stores)
    targets = [t for t in table["target"].unique() if t]
    panels = [("kmeans", "clip", "fg_ari", "FG-ARI, k-means on tokens (whole clip)"),
              ("kmeans", "clip", "mbo", "mBO, k-means on tokens (whole clip)")]
    panels += [("ridge", "summary", "specificity", f"specificity: {target}") for target in targets]
    fig, axes = _subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (method, scope, metric, title) in zip(axes[0], panels):
        target = title.split(": ")[1] if metric == "specificity" else ""
        for store in stores:
            rows = table[(table["store"] == store) & (table["method"] == method) & (table["scope"] == scope)
                         & (table["metric"] == metric) & (table["target"] == target)].sort_values("layer")
            if rows.empty:
                continue
            ax.plot(rows["layer"], rows["value"], marker="o", color=colors[store], label=store)
            ax.fill_between(rows["layer"], rows["ci_low"], rows["ci_high"], color=colors[store], alpha=0.2, linewidth=0)
            base = table[(table["store"] == store) & (table["method"] == "position") & (table["scope"] == scope) & (table["metric"] == metric)]
            if not base.empty:
                ax.axhline(float(base["value"].iloc[0]), color=colors[store], linestyle="--", linewidth=1)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("layer")
        ax.set_ylabel("R² own − cross (unitless)" if metric == "specificity" else "score (unitless)")
    axes[0][0].legend(fontsize=7)
    return fig


def _leakage(table: pd.DataFrame, layers: dict[str, int]):
    from probekit.report.figures import _subplots

    rows = table[(table["metric"] == "leakage") & (table["scope"] == "tokens")]
    stores = [s for s in layers if not rows[(rows["store"] == s) & (rows["layer"] == layers[s])].empty]
    if not stores:
        return None
    target = str(rows["target"].iloc[0])
    fig, axes = _subplots(1, len(stores), figsize=(3.4 * len(stores), 3.2), squeeze=False)
    for ax, store in zip(axes[0], stores):
        cell = rows[(rows["store"] == store) & (rows["layer"] == layers[store]) & (rows["target"] == target)]
        k = int(max(cell["slot_i"].max(), cell["slot_j"].max())) + 1
        matrix = np.full((k, k), np.nan)
        matrix[cell["slot_i"].to_numpy(), cell["slot_j"].to_numpy()] = cell["value"].to_numpy()
        image = ax.imshow(matrix, vmin=-0.2, vmax=1.0, cmap="viridis")
        for (i, j), value in np.ndenumerate(matrix):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color="white" if value < 0.5 else "black")
        ax.set_title(f"{store}, layer {layers[store]}", fontsize=9)
        ax.set_xlabel("object j (decoded)")
        ax.set_ylabel("object i (tokens pooled)")
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label=f"{target}: R² (diagonal), gain (off)")
    return fig, target


def _frames(frames: pd.DataFrame, layers: dict[str, int]):
    """One row per store: its example frame's ground truth, then its clusters at the chosen layer."""
    from probekit.report.figures import _subplots

    stores = [s for s in layers if not frames[(frames["store"] == s) & (frames["method"] == "truth")].empty]
    if not stores:
        return None
    columns = [("truth", None, "ground truth"), ("kmeans", "chosen", "k-means"), ("ward", "chosen", "Ward"),
               ("position", -1, "k-means on positions")]
    fig, axes = _subplots(len(stores), len(columns), figsize=(2.2 * len(columns), 2.4 * len(stores)), squeeze=False)
    for row_axes, store in zip(axes, stores):
        mine = frames[frames["store"] == store]
        truth = mine[mine["method"] == "truth"].iloc[0]
        for ax, (method, layer, title) in zip(row_axes, columns):
            ax.set_xticks([])
            ax.set_yticks([])
            at = layers[store] if layer == "chosen" else layer
            hit = mine[(mine["method"] == method) & ((mine["layer"] == at) if at is not None else True)]
            if hit.empty:
                ax.set_axis_off()
                continue
            row = hit.iloc[0]
            grid = np.asarray(row["labels"], dtype=int).reshape(int(row["height"]), int(row["width"]))
            ax.imshow(grid, cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
            where = f", layer {at}" if layer == "chosen" else f", step {int(truth['step'])}" if method == "truth" else ""
            ax.set_title(f"{title}{where}", fontsize=8)
        row_axes[0].set_ylabel(store, fontsize=8)
    return fig


def _interval(row: pd.Series) -> str:
    return f"{row['value']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"


def _summary(table: pd.DataFrame, layers: dict[str, int]) -> pd.DataFrame:
    out = []
    for store, layer in layers.items():
        rows = table[table["store"] == store]

        def pick(method, scope, metric, target="", at=layer):
            hit = rows[(rows["method"] == method) & (rows["scope"] == scope) & (rows["metric"] == metric) & (rows["target"] == target) & (rows["layer"] == at)]
            if hit.empty:
                return ""
            return _interval(hit.iloc[0])

        clip_rows = rows[(rows["method"] == "kmeans") & (rows["metric"] == "fg_ari") & (rows["scope"] == "clip")]
        entry = {"store": store, "chosen layer": layer, "FG-ARI k-means": pick("kmeans", "clip", "fg_ari"),
                 "FG-ARI ward": pick("ward", "clip", "fg_ari"), "FG-ARI positions": pick("position", "clip", "fg_ari", at=-1),
                 "mBO k-means": pick("kmeans", "clip", "mbo"), "mIoU k-means": pick("kmeans", "clip", "miou"),
                 "identity": pick("kmeans", "clip", "identity")}
        for target in [t for t in rows["target"].unique() if t]:
            entry[f"specificity {target}"] = pick("ridge", "summary", "specificity", target)
        entry["clips scored / excluded"] = f"{int(clip_rows['n_clips'].max())} / {int(clip_rows['n_excluded'].max())}" if not clip_rows.empty else ""
        out.append(entry)
    return pd.DataFrame(out)


def render(run) -> Section:
    """The binding section of ``run`` (a :class:`probekit.rundir.Run` holding the stage)."""
    from probekit.formats.run import read_stage_table

    table = run.table("binding")
    section = Section("binding", TITLE)
    if table.empty:
        section.absent = "The binding stage found no clip with enough objects on the token grid to score."
        return section
    stores = list(dict.fromkeys(table["store"]))
    layers = chosen_layers(table)
    excluded = int(table["n_excluded"].max())
    section.intro = (
        "Each clip's tokens (time flattened) are clustered into objects + 1 groups by k-means and Ward "
        "agglomeration and compared with the objects' masks on the token grid (FG-ARI as ocl computes it, "
        "mean best overlap and Hungarian mIoU over objects); dashed lines are k-means on the tokens' "
        "positions alone, which compact objects pass without any binding. Specificity is the R² of each "
        "object's state from its own tokens minus what one object's tokens tell about another beyond the "
        f"first object's own state. Clips with fewer than two objects on the grid are excluded ({excluded} "
        "here); intervals resample clip families. The chosen layer is each store's best FG-ARI layer."
    )
    section.figures.append(render_figure(_curves(table, stores), "binding_curves", "Binding per layer",
                                         "FG-ARI and mBO of token clusters and binding specificity per layer, with 95% family-bootstrap bands; dashed: position-only clustering."))
    leakage = _leakage(table, layers)
    if leakage is not None:
        fig, target = leakage
        section.figures.append(render_figure(fig, "binding_leakage", f"Leakage matrix ({target})",
                                             "Row i, column j: object j's state decoded from object i's tokens; diagonal R², off-diagonal gain over decoding j from i's true state."))
    try:
        frames = read_stage_table(run.path, "binding_frames")
    except FileFormatError:
        frames = None
    if frames is not None and not frames.empty:
        fig = _frames(frames, layers)
        if fig is not None:
            section.figures.append(render_figure(fig, "binding_frame", "Masks and token clusters",
                                                 "Per store, the example clip's busiest token step: ground-truth labels (0 background, k + 1 slot k) next to the token clusters at the chosen layer and the position-only clusters (cluster colours are arbitrary)."))
    section.table = _summary(table, layers)
    return section


def evidence(run) -> Evidence:
    """Binding evidence under the verdicts, at each store's chosen binding layer.

    Per store: how well k-means clusters of its tokens recover the objects (whole-clip FG-ARI).
    Per (store, target): the leakage matrix's specificity (own-object R² minus cross-object R²:
    about 1 bound, about 0 entangled).
    """
    table = run.table("binding")
    out: Evidence = {}
    for store, layer in chosen_layers(table).items():
        rows = table[(table["store"] == store) & (table["layer"] == layer)]
        method, scope, metric = CHOICE
        ari = rows[(rows["method"] == method) & (rows["scope"] == scope) & (rows["metric"] == metric)]
        if len(ari):
            out.setdefault((store, ""), []).append(f"binding, layer {layer}: k-means token clusters recover the objects "
                                                   f"with FG-ARI {_interval(ari.iloc[0])}")
        spec = rows[(rows["method"] == "ridge") & (rows["scope"] == "summary") & (rows["metric"] == "specificity")]
        for _, row in spec.iterrows():
            if row["target"] and np.isfinite(row["value"]):
                out.setdefault((store, str(row["target"])), []).append(
                    f"binding, layer {layer}: object-token specificity {_interval(row)} (1 bound, 0 entangled)")
    return out


register_section("binding", render)
register_evidence("binding", evidence)
