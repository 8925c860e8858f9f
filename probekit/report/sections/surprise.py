"""Report section of the ``surprise`` stage: VoE scores per principle beside the probes of what each principle needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from probekit.report.figures import error_bars
from probekit.report.sections import Section, register_section, render_figure

if TYPE_CHECKING:  # pragma: no cover
    from probekit.rundir import Run

_METRIC_COLUMNS = {"relative_accuracy_mean": "relative acc. (mean)", "relative_accuracy_max": "relative acc. (max)",
                   "absolute_accuracy_max": "absolute acc. (max)", "auroc_mean": "AUROC (mean)"}


def _cell(row: pd.Series) -> str:
    return f"{row['score']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"


def headline_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (principle, store, method) at the headline context (predictor) or last layer (dynamics)."""
    from probekit.stages.surprise import PRINCIPLES

    head = table[table["headline"] & table["offset"].isna()]
    rows = []
    for (principle, store, method), group in head.groupby(["principle", "store", "method"], sort=False):
        row = {"principle": principle, "store": store, "method": method,
               "at": f"context {int(group['context'].iloc[0])} frames" if method == "predictor" else f"layer {int(group['layer'].iloc[0])}",
               "pairs": int(group["n_pairs"].iloc[0])}
        scored = group[group["metric"] != ""].set_index("metric")
        for metric, label in _METRIC_COLUMNS.items():
            row[label] = _cell(scored.loc[metric]) if metric in scored.index else group["note"].iloc[0]
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["order"] = out["principle"].map({p: i for i, p in enumerate(PRINCIPLES)})
    return out.sort_values(["order", "method", "store"]).drop(columns="order").reset_index(drop=True)


def probe_link(run: "Run", stores: list[str]) -> pd.DataFrame:
    """Per principle and target, each store's probe score at its inner-CV-selected layer and the nuisance baseline."""
    from probekit.stages.surprise import PRINCIPLE_TARGETS

    selection = run.selection
    results = run.results
    rows = []
    for principle, targets in PRINCIPLE_TARGETS.items():
        if not targets:
            rows.append({"principle": principle, "target": "shape, colour", "note": "no probe target for shape or colour"})
            continue
        for target in targets:
            row = {"principle": principle, "target": target}
            if not selection.empty and "choice" in selection:
                chosen = selection[(selection["choice"] == "layer") & (selection["target"] == target) & (selection["slot"] == 0)]
                for store in stores:
                    mine = chosen[chosen["store"] == store]
                    mine = mine[mine["readout"] == "linear"] if (mine["readout"] == "linear").any() else mine
                    if not mine.empty:
                        best = mine.iloc[0]
                        row[store] = f"{best['metric']} {best['score']:.2f} [{best['ci_low']:.2f}, {best['ci_high']:.2f}] (L{int(best['layer'])})"
            if not results.empty:
                base = results[(results["store"] == "labels") & (results["control"] == "nuisance") & (results["target"] == target)
                               & (results["slot"].isin([0, -1]))]
                metric = row_metric(row, stores)
                base = base[base["metric"] == metric] if metric else base.iloc[0:0]
                if not base.empty:
                    row["nuisance baseline"] = f"{metric} {base['score'].iloc[0]:.2f}"
            if len(row) == 2:
                row["note"] = "not probed in this run"
            rows.append(row)
    return pd.DataFrame(rows)


def row_metric(row: dict, stores: list[str]) -> str:
    """The metric named in a probe-link row's first store cell ('' when none)."""
    for store in stores:
        if store in row:
            return str(row[store]).split(" ", 1)[0]
    return ""


def _layer_figure(table: pd.DataFrame):
    from probekit.report.figures import _subplots, store_colors
    from probekit.stages.surprise import PRINCIPLES

    rows = table[(table["method"] == "dynamics") & (table["metric"] == "relative_accuracy_mean")]
    principles = [p for p in PRINCIPLES if p in set(rows["principle"])]
    if not principles:
        return None
    stores = list(dict.fromkeys(table["store"]))
    colors = store_colors(stores)
    fig, axes = _subplots(1, len(principles), figsize=(2.6 * len(principles), 2.6), sharey=True, squeeze=False)
    for ax, principle in zip(axes[0], principles):
        for store in stores:
            mine = rows[(rows["principle"] == principle) & (rows["store"] == store)].sort_values("layer")
            if not mine.empty:
                ax.errorbar(mine["layer"], mine["score"], yerr=error_bars(mine["score"], mine["ci_low"], mine["ci_high"]),
                            marker="o", ms=3, capsize=2, color=colors[store], label=f"{store} (dynamics)")
            pred = table[(table["method"] == "predictor") & table["headline"] & (table["metric"] == "relative_accuracy_mean")
                         & (table["principle"] == principle) & (table["store"] == store)]
            if not pred.empty:
                ax.axhline(pred["score"].iloc[0], color=colors[store], ls="--", lw=1, label=f"{store} (predictor)")
        ax.axhline(0.5, color="0.6", lw=0.8, ls=":")
        ax.set_title(principle)
        ax.set_xlabel("layer")
        ax.set_ylim(0, 1.02)
    axes[0][0].set_ylabel("relative accuracy (mean), 0.5 = chance")
    axes[0][-1].legend(fontsize=6, loc="lower right")
    return fig


def _curve_figure(table: pd.DataFrame):
    from probekit.report.figures import _subplots, store_colors
    from probekit.stages.surprise import PRINCIPLES

    curves = table[table["headline"] & table["metric"].isin(["curve_possible", "curve_impossible"])]
    principles = [p for p in PRINCIPLES if p in set(curves["principle"])]
    if not principles:
        return None
    stores = list(dict.fromkeys(table["store"]))
    colors = store_colors(stores)
    fig, axes = _subplots(1, len(principles), figsize=(2.6 * len(principles), 2.6), squeeze=False)
    for ax, principle in zip(axes[0], principles):
        for (store, method), group in curves[curves["principle"] == principle].groupby(["store", "method"], sort=False):
            wide = group.pivot_table(index="offset", columns="metric", values="score")
            if {"curve_possible", "curve_impossible"} <= set(wide.columns):
                diff = wide["curve_impossible"] - wide["curve_possible"]
                scale = np.nanmean(np.abs(wide["curve_possible"])) or 1.0
                ax.plot(wide.index, diff / scale, marker="o", ms=3, color=colors[store],
                        ls="-" if method == "predictor" else "--", label=f"{store} ({method})")
        ax.axvline(0, color="0.4", lw=0.8)
        ax.axhline(0, color="0.6", lw=0.8, ls=":")
        ax.set_title(principle)
        ax.set_xlabel("first predicted frame − violation frame")
    axes[0][0].set_ylabel("(impossible − possible) / mean possible")
    axes[0][-1].legend(fontsize=6)
    return fig


def render(run: "Run") -> Section:
    """The surprise section: headline table, scores per layer, aligned curves, and the probe link."""
    table = run.table("surprise")
    section = Section("surprise", "Violation-of-expectation surprise")
    section.intro = (
        "Each violation twin is identical to its family's possible original up to the violation frame. Relative accuracy is "
        "the share of pairs in which the impossible clip is the more surprising one (0.5 = chance; ties count 0.5), over the "
        "windows whose predicted frames include or follow the violation; absolute accuracy thresholds single clips at the 90th "
        "percentile of possible clips' maximum surprise; AUROC takes 'possible' as the positive class. Intervals: 95% bootstrap "
        "over families. 'predictor' is the V-JEPA 2 predictor's error at the context length fixed in advance (4 frames); "
        "'dynamics' is a ridge probe predicting the next step's latents, fitted on possible clips of training families only "
        "(the table shows the last layer, the figure every layer). Below the table: what the probes find for the quantity each "
        "principle needs, at each store's inner-CV-selected layer, beside the nuisance baseline.")
    section.table = headline_table(table)
    link = probe_link(run, list(dict.fromkeys(table["store"])))
    if not link.empty:
        section.table = pd.concat([section.table, pd.DataFrame([{}]), link.rename(columns={"target": "probe target"})],
                                  ignore_index=True).astype(object).fillna("")
    for maker, kind, title, caption in (
        (_layer_figure, "surprise_layers", "Relative accuracy per layer",
         "Latent dynamics probe per layer (error bars: 95% family bootstrap); dashed: the predictor's headline score."),
        (_curve_figure, "surprise_curves", "Surprise aligned to the violation frame",
         "Mean surprise of impossible minus possible clips against the first predicted frame relative to the violation frame, "
         "scaled by the possible clips' mean."),
    ):
        fig = maker(table)
        if fig is not None:
            section.figures.append(render_figure(fig, kind, title, caption))
    return section


register_section("surprise", render)
