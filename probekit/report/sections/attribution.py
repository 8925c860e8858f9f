"""Report section of the ``attribution`` stage: scores, the randomisation check and a gallery of maps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from probekit.report.sections import Section, register_section, render_figure

#: Clips shown per store in the gallery.
GALLERY_CLIPS = 3


def _scores_table(table: pd.DataFrame) -> pd.DataFrame:
    keys = ["store", "target", "slot", "layer", "method"]
    out = []
    for key, rows in table.groupby(keys, sort=False):
        row = dict(zip(keys, key))
        by_metric = {m: r.iloc[0] for m, r in rows.groupby("metric")}

        def cell(metric: str) -> str:
            if metric not in by_metric or not np.isfinite(by_metric[metric]["value"]):
                return "n/a"
            r = by_metric[metric]
            ci = f" [{r['ci_low']:.2f}, {r['ci_high']:.2f}]" if np.isfinite(r["ci_low"]) else ""
            return f"{r['value']:.2f}{ci}"

        row["energy in object (chance)"] = f"{cell('energy_pointing_game')} ({cell('energy_chance')})"
        row["pointing game"] = cell("pointing_game")
        row["mass in other objects"] = cell("leakage")
        cascade = rows[rows["metric"] == "randomisation_spearman"]
        if len(cascade):
            last = cascade.iloc[-1]
            flag = " FAILS (maps survive randomisation)" if bool(last["flagged"]) else ""
            row["Spearman after full randomisation"] = f"{last['value']:.2f}{flag}"
        else:
            row["Spearman after full randomisation"] = "not run"
        row["clips"] = int(by_metric["energy_pointing_game"]["n_clips"]) if "energy_pointing_game" in by_metric else 0
        out.append(row)
    return pd.DataFrame(out)


def _gallery(run, table: pd.DataFrame) -> list:
    import h5py
    import matplotlib.pyplot as plt

    path = run.path / "attribution.h5"
    figures = []
    if not path.is_file():
        return figures
    with h5py.File(path, "r") as handle:
        if "maps" not in handle:
            return figures
        combos = []
        for store in handle["maps"]:
            for target in handle["maps"][store]:
                for slot in handle["maps"][store][target]:
                    for method in handle["maps"][store][target][slot]:
                        combos.append((store, target, slot, method))
        by_target: dict[tuple[str, str, str], list[str]] = {}
        for store, target, slot, method in combos:
            by_target.setdefault((target, slot, method), []).append(store)
        for (target, slot, method), stores in by_target.items():
            fig, axes = plt.subplots(len(stores), GALLERY_CLIPS + 1, figsize=(2.2 * (GALLERY_CLIPS + 1), 2.2 * len(stores)), squeeze=False)
            for row, store in enumerate(stores):
                group = handle["maps"][store][target][slot][method]
                maps, frames, steps = group["map"][()], group["frame"][()], group["step"][()]
                frame_indices = group["frame_index"][()]
                clips = group["clip"][()]
                n = min(GALLERY_CLIPS, len(maps))
                for col in range(GALLERY_CLIPS):
                    ax = axes[row, col]
                    ax.set_xticks([])
                    ax.set_yticks([])
                    if col >= n:
                        ax.axis("off")
                        continue
                    shown = np.clip(maps[col, int(frame_indices[col])].astype(np.float32), 0, None)
                    ax.imshow(frames[col])
                    top = float(shown.max()) or 1.0
                    ax.imshow(shown / top, cmap="inferno", alpha=0.55, vmin=0, vmax=1)
                    ax.set_title(f"clip {int(clips[col])}, step {int(steps[col])}", fontsize=7)
                    if col == 0:
                        ax.set_ylabel(store, fontsize=7)
                strip = axes[row, GALLERY_CLIPS]
                mass = np.clip(maps.astype(np.float32), 0, None).sum(axis=(2, 3))
                mass = mass / np.maximum(mass.sum(axis=1, keepdims=True), 1e-12)
                for curve in mass[:n]:
                    strip.plot(np.arange(len(curve)), curve, lw=1)
                strip.set_xlabel("frame", fontsize=7)
                strip.set_ylabel("share of positive mass", fontsize=7)
                strip.tick_params(labelsize=6)
            fig.suptitle(f"{target} [slot {slot.removeprefix('slot')}], {method}", fontsize=9)
            fig.tight_layout()
            figures.append(render_figure(
                fig, "attribution", f"Attribution of {target} (slot {slot.removeprefix('slot')}, {method})",
                "Each row is a store; each image the clip's frame at the explained token step with the positive part of "
                "the map over it (brighter: more attribution); right: the share of positive attribution in each frame."))
    return figures


def render(run) -> Section:
    """The attribution section of ``run``."""
    section = Section("attribution", "Attribution maps")
    table = run.table("attribution")
    if table.empty:
        section.absent = "The attribution stage explained no clip."
        return section
    section.table = _scores_table(table)
    flagged = sorted({str(m) for m in table.loc[table["flagged"].astype(bool), "method"]})
    warning = (f" Methods whose maps survive full randomisation (Spearman > 0.5), so they do not explain the model: "
               f"{', '.join(flagged)}." if flagged else "")
    section.intro = (
        "Where in space and time each encoder gets what its probe reads: the fitted linear probe of the outer fold that held the "
        "clip's family out, composed with the encoder up to the probe's layer, differentiated (or occluded) with respect to the "
        "encoder's input pixels (captum). Energy in object: share of the map's positive mass inside the target object's mask, "
        "beside the mask's area share (chance); pointing game: whether the map's maximum falls in the mask; mass in other "
        "objects: the share inside the other objects' masks. Randomisation: Spearman rank correlation of |map| before and after "
        "re-initialising the probe and every encoder layer from the top down (Adebayo et al., 2018); intervals: 95% bootstrap "
        f"over clips.{warning}")
    section.figures = _gallery(run, table)
    return section


register_section("attribution", render)
