"""Report section of the ``structure`` stage: per-layer curves, the S table and the CKA map."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure as MplFigure

from probekit.report.sections import Evidence, Section, register_evidence, register_section, render_figure

NUISANCE_STYLES = {"color": "-", "texture": "--", "light": "-.", "camera": ":"}


def _finite(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[np.isfinite(rows["value"].to_numpy(dtype=float))]


def _colors(stores: list[str]) -> dict:
    from probekit.report.figures import store_colors

    return store_colors(stores)


def _grid(n: int, width: float = 3.6, height: float = 3.0):
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = MplFigure(figsize=(width * cols, height * rows + 0.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def _layer_axis(ax, ylabel: str) -> None:
    ax.set_xlabel("layer (0 = embedding output)")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)


def invariance_curves(table: pd.DataFrame, colors: dict) -> MplFigure | None:
    """S_layer(p, n) / S_pixels(p, n) against layer, one panel per physics factor."""
    rows = _finite(table[(table["metric"] == "sensitivity_vs_pixels") & (table["pooling"] == "token_mean")])
    if rows.empty:
        return None
    physics = list(dict.fromkeys(rows["factor"]))
    fig, axes = _grid(len(physics))
    for ax, factor in zip(axes, physics):
        for (store, nuisance), group in rows[rows["factor"] == factor].groupby(["store", "versus"], sort=False):
            group = group.sort_values("layer")
            x = group["layer"].to_numpy()
            ax.plot(x, group["value"], color=colors.get(store, "k"), linestyle=NUISANCE_STYLES.get(nuisance, "-"),
                    marker="o", markersize=3.5, label=f"{store} · vs {nuisance}")
            ax.fill_between(x, group["ci_low"].astype(float), group["ci_high"].astype(float), color=colors.get(store, "k"),
                            alpha=0.08, linewidth=0)
        ax.axhline(1.0, color="0.3", linewidth=1.0)
        ax.set_yscale("log")
        ax.set_title(f"{factor} change, relative to nuisance, / pixels", fontsize=9)
        _layer_axis(ax, "S_layer / S_pixels (log)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=7, frameon=False)
    return fig


def equivariance_curves(table: pd.DataFrame, colors: dict) -> MplFigure | None:
    """Grouped-CV R^2 of the factor's log change from the latent difference, per layer."""
    rows = _finite(table[table["metric"] == "equivariance_r2"])
    if rows.empty:
        return None
    physics = list(dict.fromkeys(rows["factor"]))
    fig, axes = _grid(len(physics))
    for ax, factor in zip(axes, physics):
        for store, group in rows[rows["factor"] == factor].groupby("store", sort=False):
            group = group.sort_values("layer")
            x = group["layer"].to_numpy()
            ax.plot(x, group["value"], color=colors.get(store, "k"), marker="o", markersize=3.5, label=store)
            ax.fill_between(x, group["ci_low"].astype(float), group["ci_high"].astype(float), color=colors.get(store, "k"),
                            alpha=0.12, linewidth=0)
        ax.axhline(0.0, color="0.45", linewidth=0.9)
        ax.set_title(f"equivariance: log {factor} change", fontsize=9)
        _layer_axis(ax, "R² (grouped CV)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=7, frameon=False)
    return fig


def disentanglement_curves(table: pd.DataFrame, colors: dict) -> MplFigure | None:
    """D, C and MIG against layer; dashed: the same code randomly rotated."""
    metrics = [("dci_disentanglement", "DCI disentanglement"), ("dci_completeness", "DCI completeness"), ("mig", "MIG (mean over factors)")]
    rows = _finite(table[table["metric"].isin([m for m, _ in metrics]) & (table["factor"] == "")])
    if rows.empty:
        return None
    fig, axes = _grid(len(metrics))
    for ax, (metric, title) in zip(axes, metrics):
        for (store, control), group in rows[rows["metric"] == metric].groupby(["store", "control"], sort=False):
            group = group.sort_values("layer")
            ax.plot(group["layer"], group["value"], color=colors.get(store, "k"), marker="o", markersize=3.5,
                    linestyle="--" if control == "rotation" else "-",
                    label=f"{store}" + (" · random rotation" if control == "rotation" else ""))
        ax.set_title(title, fontsize=9)
        _layer_axis(ax, "score (higher: more axis-aligned)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=7, frameon=False)
    return fig


def cka_map(table: pd.DataFrame, stores: list[str]) -> MplFigure | None:
    """Linear CKA between every pair of stored layers, one panel per pair of stores."""
    rows = table[table["metric"] == "cka_linear"]
    if rows.empty:
        return None
    pairs = list(dict.fromkeys(zip(rows["store"], rows["versus"])))
    fig, axes = _grid(len(pairs), width=3.4, height=3.2)
    image = None
    for ax, (a, b) in zip(axes, pairs):
        block = rows[(rows["store"] == a) & (rows["versus"] == b)]
        la, lb = sorted(set(block["layer"])), sorted(set(block["versus_layer"]))
        matrix = np.full((len(la), len(lb)), np.nan)
        for row in block.itertuples():
            matrix[la.index(row.layer), lb.index(row.versus_layer)] = row.value
            if a == b and row.versus_layer in la and row.layer in lb:
                matrix[la.index(row.versus_layer), lb.index(row.layer)] = row.value
        image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis", origin="lower", aspect="auto")
        ax.set_xticks(range(len(lb)), [str(v) for v in lb], fontsize=7)
        ax.set_yticks(range(len(la)), [str(v) for v in la], fontsize=7)
        ax.set_xlabel(f"{b} layer", fontsize=8)
        ax.set_ylabel(f"{a} layer", fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=list(axes[: len(pairs)]), shrink=0.8, label="linear CKA (clip-mean latents)")
    return fig


def s_table(table: pd.DataFrame) -> pd.DataFrame:
    """The physics x nuisance table: S_layer(p, n) with its interval and, beside it, / S_pixels."""
    rows = table[table["metric"].isin(["sensitivity_ratio", "sensitivity_vs_pixels"]) & (table["pooling"] == "token_mean")]
    if rows.empty:
        return pd.DataFrame()

    def cell(row) -> str:
        if not np.isfinite(row.value):
            return "n/a"
        interval = f" [{row.ci_low:.2g}, {row.ci_high:.2g}]" if np.isfinite(row.ci_low) else ""
        return f"{row.value:.3g}{interval}"

    out = rows.assign(cell=[cell(r) for r in rows.itertuples()])
    out = out.assign(column=[f"{n}: S" if m == "sensitivity_ratio" else f"{n}: S/S_pixels" for n, m in zip(out["versus"], out["metric"])])
    wide = out.pivot_table(index=["store", "layer", "factor"], columns="column", values="cell", aggfunc="first", sort=False)
    wide = wide.reset_index().rename(columns={"factor": "physics factor"})
    wide.columns.name = None
    return wide.fillna("")


def _evidence(table: pd.DataFrame) -> str:
    rows = _finite(table[(table["metric"] == "sensitivity_vs_pixels") & (table["pooling"] == "token_mean")])
    low = rows[rows["ci_high"] < 1]
    high = rows[rows["ci_low"] > 1]
    parts = []
    if len(low):
        names = ", ".join(f"{r.store} L{r.layer} ({r.factor} vs {r.versus}: {r.value:.2g})" for r in low.head(6).itertuples())
        parts.append(f"Over-invariance evidence (S/S_pixels below 1, interval below 1) in {len(low)} cells, e.g. {names}.")
    if len(high):
        parts.append(f"{len(high)} cells are more sensitive to physics than pixels (interval above 1).")
    if not parts and len(rows):
        parts.append("No S/S_pixels interval lies wholly below or above 1.")
    return " ".join(parts)


def render(run) -> Section:
    """The structure section of ``run``."""
    table = run.table("structure")
    stores = [s for s in dict.fromkeys(table["store"]) if s]
    colors = _colors(stores)
    section = Section("structure", "Structure: invariance, disentanglement, similarity")
    captions = [
        (invariance_curves(table, colors), "invariance",
         "S/S_pixels by layer",
         "S_layer(p, n) = d(p)/d(n): the normalised twin distance (token mean per step, steps after the twins "
         "diverge, divided by 2 tr Sigma over original clips) of physics twins over nuisance twins, divided by the "
         "same ratio on pixels. Below 1: more invariant to physics than pixels are. Bands: family bootstrap 95%."),
        (equivariance_curves(table, colors), "equivariance",
         "Equivariance by layer",
         "Grouped-CV ridge R² from the time-mean latent difference of a physics twin to log(new/old) of the factor."),
        (disentanglement_curves(table, colors), "disentanglement",
         "DCI and MIG by layer",
         "Clip-mean codes against clip-level factors of slot 0 (lasso importance by default; MIG with 20 "
         "equal-width bins). Dashed: the code randomly rotated; D and MIG depend on the basis, "
         "informativeness does not."),
        (cka_map(table, stores), "cka", "Linear CKA",
         "Linear CKA of clip-mean latents between layers of a store and between stores (debiased values in the table)."),
    ]
    for fig, kind, title, caption in captions:
        if fig is not None:
            section.figures.append(render_figure(fig, kind, title, caption))
    notes = table.loc[table["metric"] == "structure", "note"].tolist()
    section.intro = " ".join(filter(None, [
        _evidence(table),
        "The table: S_layer(p, n) per physics factor (rows) and nuisance factor (columns), with S/S_pixels beside it "
        "(n/a where the physics change moves the pixels by less than the floor); the full tidy table is "
        "run.table('structure').",
        *notes,
    ]))
    wide = s_table(table)
    section.table = wide if len(wide) else None
    if not section.figures and section.table is None:
        section.absent = "The structure stage ran but produced no finite score: " + ("; ".join(notes) or "see run.table('structure')")
    return section


register_section("structure", render)


#: Probe targets whose physics factor the twins change (target -> factor of the structure table).
TARGET_FACTORS = {"velocity": "velocity", "speed": "velocity", "gravity": "gravity", "mass": "mass",
                  "friction": "friction", "restitution": "restitution"}


def evidence(run) -> Evidence:
    """Invariance evidence under the verdicts, at each store's deepest measured layer (token means).

    Per (store, target) whose physics factor the twins change: the twins' latent distance and,
    where a pixels store is in the run, the sensitivity ratio against the pixels' (below 1 with
    its interval below 1: the encoder is more invariant to the change than the pixels are).
    """
    table = run.table("structure")
    rows = table[(table["pooling"] == "token_mean") & (table["control"] == "none")]
    out: Evidence = {}
    for store, own in rows.groupby("store", sort=False):
        layer = int(own["layer"].max())
        own = own[own["layer"] == layer]
        for target, factor in TARGET_FACTORS.items():
            parts = []
            dist = own[(own["metric"] == "twin_distance") & (own["factor"] == factor)]
            dist = dist[np.isfinite(dist["value"].to_numpy(dtype=float))]
            if len(dist):
                r = dist.iloc[0]
                parts.append(f"twin distance {r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]")
            ratio = own[(own["metric"] == "sensitivity_vs_pixels") & (own["factor"] == factor)]
            ratio = ratio[np.isfinite(ratio["value"].to_numpy(dtype=float))]
            if len(ratio):
                r = ratio.iloc[0]
                parts.append(f"sensitivity vs pixels {r['value']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}] (against {r['versus']})")
            if parts:
                out.setdefault((str(store), target), []).append(f"invariance, layer {layer}, {factor} twins: " + "; ".join(parts))
    return out


register_evidence("structure", evidence)
