"""Build the HTML report of a run directory: one self-contained file, written atomically."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from probekit.errors import BadOptionError
from probekit.report.diagnosis import (
    METRIC_NAMES,
    TargetDiagnosis,
    Thresholds,
    diagnose,
    fmt,
    sentence,
    target_name,
)
from probekit.report.headline import headline as run_headline
from probekit.report.sections import Section, render_figure, stage_sections, verdict_evidence
from probekit.report.verdicts import GainMargins, format_gains, headline_rows, judge
from probekit.rundir import STORE_CONTROLS, Run, load_run

#: How the plain statement of weights reads, per ``weights`` value.
WEIGHT_WORDS = {
    "trained": "trained weights (shipped with probekit)",
    "pretrained": "pretrained checkpoint",
    "random": "RANDOM weights: untrained, a baseline",
    "planted": "planted-signal reference encoder: no learned weights, known answer",
    "none": "no weights (pixel baseline)",
    "": "not recorded",
}


def _weights_text(weights: str) -> str:
    return WEIGHT_WORDS.get(weights, weights)


_render_figure = render_figure


def _diagnosis_table(diagnoses: list[TargetDiagnosis]) -> pd.DataFrame:
    rows = []
    for d in diagnoses:
        if d.chosen is None:
            continue
        ev = d.chosen
        rows.append({
            "store": d.store,
            "target": d.name,
            "unit": d.unit or "1",
            "readout (inner CV)": ev.readout,
            "layer (inner CV)": ev.layer,
            "metric": METRIC_NAMES.get(d.metric, d.metric),
            "score": fmt(ev.score.score),
            "95% CI": f"[{fmt(ev.score.ci_low)}, {fmt(ev.score.ci_high)}]",
            "baseline": f"{ev.baseline.label} {fmt(ev.baseline.score)}",
            "gain": fmt(ev.gain, signed=True),
            "ceiling": fmt(d.ceiling.score) if d.ceiling else "n/a",
            "random-weight twin": fmt(d.references["random_init"].score) if "random_init" in d.references else "n/a",
            "selectivity": fmt(d.references["selectivity"].score) if "selectivity" in d.references else "n/a",
            "pattern": d.pattern,
        })
    return pd.DataFrame(rows)


def _scenario_table(run: Run, diagnoses: list[TargetDiagnosis]) -> pd.DataFrame:
    results = run.results
    rows = []
    for d in diagnoses:
        if d.chosen is None:
            continue
        found = results[(results["store"] == d.store) & (results["target"] == d.target) & (results["slot"] == d.slot)
                        & (results["readout"] == d.chosen.readout) & (results["layer"] == d.chosen.layer)
                        & results["control"].isin(STORE_CONTROLS) & (results["metric"] == d.metric) & (results["scenario"] != "all")]
        for row in found.itertuples(index=False):
            rows.append({"store": d.store, "target": d.name, "readout": d.chosen.readout, "layer": d.chosen.layer,
                         "scenario": row.scenario, "metric": METRIC_NAMES.get(d.metric, d.metric),
                         "score": fmt(row.score), "95% CI": f"[{fmt(row.ci_low)}, {fmt(row.ci_high)}]",
                         "families": int(row.n_families) if pd.notna(row.n_families) else ""})
    return pd.DataFrame(rows)


def _umap_store(run: Run) -> str | None:
    """The store whose latents the UMAP embeds: the run's first store with its file on disk."""
    return next((s for s in run.stores if run.store_path(s) is not None), None)


def _umap_candidates(store_label: str, diagnoses: list[TargetDiagnosis], umap_target: str | None) -> list[TargetDiagnosis]:
    """Diagnosed targets of ``store_label`` that may colour the UMAP (only ``umap_target`` when given)."""
    candidates = [d for d in diagnoses if d.store == store_label and d.chosen is not None]
    if umap_target is None:
        return candidates
    candidates = [d for d in candidates if d.target == umap_target]
    if not candidates:
        known = sorted({d.target for d in diagnoses if d.store == store_label})
        raise BadOptionError(f"--umap-target {umap_target!r}: not a diagnosed target of store {store_label!r}; choose one of {known}")
    return candidates


def _umap_section(run: Run, diagnoses: list[TargetDiagnosis], umap_target: str | None, seed: int) -> Section:
    """One UMAP per report, fitted once on one point per clip and drawn coloured by the target and
    by scenario."""
    from probekit.report import figures
    from probekit.report.latents import label_for_target
    from probekit.formats.store import Store

    section = Section("umap", "Embedding of one layer's latents (UMAP, one point per clip)")
    store_label = _umap_store(run)
    if store_label is None:
        paths = ", ".join(str(run.input(s).get("path", "?")) for s in run.stores)
        section.absent = f"No UMAP: none of the run's latent stores is on disk any more (looked for {paths})."
        return section
    with Store(run.store_path(store_label)) as store:
        labels = set(store.label_names)
        candidates = _umap_candidates(store_label, diagnoses, umap_target)
        usable = [d for d in candidates if label_for_target(d.target, labels) is not None]
        chosen = usable[0] if usable else None
        layer = chosen.chosen.layer if chosen else store.layers[-1]
        kinds = store.feature_kinds(layer)
        kind = "time" if "time" in kinds else "mean" if "mean" in kinds else None
        if kind is None:
            section.absent = f"No UMAP: layer {layer} of {store_label} holds no pooled latents (kinds: {', '.join(kinds)})."
            return section
        features = np.asarray(store.features(layer, kind), dtype=np.float32)
        clips = store.clips()
        scenario = clips["scenario"].to_numpy().astype(str) if "scenario" in clips else np.array(["all"] * len(features))
        values, color_label = _umap_target_values(store, chosen, kind)
    points, values, scenario, how = _one_point_per_clip(features, values, scenario, kind, seed)
    if len(points) < 5:
        section.absent = f"No UMAP: only {len(points)} usable clips at layer {layer} of {store_label}."
        return section
    colorings = ([(values, color_label)] if values is not None else []) + [(scenario, "scenario")]
    title = f"{store_label}, layer {layer}: {len(points)} clips, one point each ({how})"
    fig = figures.umap_embedding(points, title=title, seed=seed, colorings=colorings)
    section.figures.append(_render_figure(
        fig, "umap", title,
        f"UMAP (umap-learn, n_neighbors={min(15, len(points) - 1)}, min_dist 0.2, seed {seed}), fitted once on {len(points)} "
        f"clips' {kind}-pooled latents of layer {layer}" + (f" (the layer chosen by inner CV for {chosen.name})" if chosen else "")
        + f", one point per clip ({how}); coloured by " + " and by ".join(label for _, label in colorings)
        + ". Whole-number labels (binary targets, scenarios) get categorical colours with the count of clips per category.", "png"))
    return section


#: At most this many clips in the UMAP (a seeded subsample beyond it, stated in the caption).
UMAP_MAX_CLIPS = 1500


def _umap_target_values(store, chosen: TargetDiagnosis | None, kind: str) -> tuple[np.ndarray | None, str]:
    """The target's label per point of ``kind`` features (N*T' for ``time``), and its legend label."""
    from probekit.report.latents import label_for_target, label_per_point

    if chosen is None:
        return None, ""
    label = label_for_target(chosen.target, set(store.label_names)) or chosen.target
    values, is_norm = label_per_point(store, label, chosen.slot, kind)
    name = f"‖{chosen.name}‖" if is_norm else chosen.name
    unit = chosen.unit if chosen.unit not in ("", "1") else "unitless"
    return values, f"{name} ({unit})"


def _one_point_per_clip(features: np.ndarray, values: np.ndarray | None, scenario: np.ndarray, kind: str,
                        seed: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, str]:
    """One latent vector per clip: for time-pooled latents one token step per clip drawn at random
    (seeded) among the steps where the target is defined, so a binary label stays binary."""
    rng = np.random.default_rng(seed)
    n = features.shape[0]
    if kind == "time":
        steps = features.shape[1]
        per_step = None if values is None else np.asarray(values, dtype=float).reshape(n, steps)
        rows, picked = [], []
        for i in range(n):
            ok = np.isfinite(features[i]).all(axis=-1)
            if per_step is not None:
                ok &= np.isfinite(per_step[i])
            if ok.any():
                rows.append(i)
                picked.append(int(rng.choice(np.flatnonzero(ok))))
        rows_a, picked_a = np.asarray(rows, dtype=int), np.asarray(picked, dtype=int)
        points = features[rows_a, picked_a] if len(rows_a) else features[:0, 0]
        values = None if per_step is None else per_step[rows_a, picked_a]
        how = "its latents at one token step drawn at random where the target is defined"
    else:
        keep = np.isfinite(features).all(axis=1) & (np.isfinite(np.asarray(values, dtype=float)) if values is not None else True)
        rows_a = np.flatnonzero(keep)
        points = features[rows_a]
        values = None if values is None else np.asarray(values)[rows_a]
        how = "its clip-mean latents; the target averaged over the clip"
    scenario = scenario[rows_a]
    if len(points) > UMAP_MAX_CLIPS:
        pick = np.sort(rng.choice(len(points), UMAP_MAX_CLIPS, replace=False))
        points, scenario = points[pick], scenario[pick]
        values = None if values is None else values[pick]
        how += f"; a seeded subsample of {UMAP_MAX_CLIPS} clips"
    return points, values, scenario, how


def _frames_section(run: Run) -> Section:
    """A strip of frames per scenario with masks and slot roles (from the stores' world file)."""
    from probekit.report import figures
    from probekit.report.sources import scenario_strips, world_of

    section = Section("frames", "The clips: one per scenario, with object masks and slot roles")
    world, why = world_of(run)
    if world is None:
        section.absent = f"No frames: {why}."
        return section
    strips = scenario_strips(world)
    if not strips:
        section.absent = f"No frames: the world file {world} holds no clips."
        return section
    section.figures.append(_render_figure(
        figures.frame_strip(strips), "frames", "One clip per scenario",
        f"Evenly spaced frames of the first original clip of each scenario in {world.name}; outlines: each object's visible "
        "mask (video/segmentation) in its slot's colour; legend: the slot's role in that scenario (slot_roles of the world "
        "file). Per-object targets below are named by slot.", "png"))
    return section


def _store_provenance(run: Run) -> list[dict[str, Any]]:
    from probekit.formats.store import Store

    rows = []
    for label in run.stores:
        entry = run.input(label)
        item = {
            "label": label,
            "encoder": entry.get("encoder", ""),
            "init": entry.get("init", ""),
            "weights": _weights_text(str(entry.get("weights", ""))),
            "weight_hash": str(entry.get("weight_hash", ""))[:16],
            "layers": ", ".join(str(v) for v in entry.get("layers", [])),
            "path": str(entry.get("path", "")),
            "store_hash": str(entry.get("store_hash", ""))[:16],
            "details": {},
        }
        path = run.store_path(label)
        if path is not None:
            with contextlib.suppress(Exception), Store(path) as store:
                attrs = store.attrs
                for key in ("source_path", "source_hash", "source_seed", "recipe", "encoder_seed", "sampling",
                            "preprocessing", "dtype", "token_grid", "layer_names", "shuffle_frames_seed",
                            "probekit_version", "final_norm"):
                    if key in attrs:
                        value = attrs[key]
                        item["details"][key] = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
                item["details"]["clips"] = str(store.n_clips)
        else:
            item["details"]["store file"] = "not on disk"
        rows.append(item)
    return rows


def build_context(run: Run, *, thresholds: Thresholds = Thresholds(), umap_target: str | None = None, seed: int = 0,
                  progress: bool = False) -> dict[str, Any]:
    """Everything the template shows, with figures rendered as data URIs.

    Parameters
    ----------
    run
        A loaded run (:func:`probekit.rundir.load_run`).
    thresholds
        Margins the diagnosis uses.
    umap_target
        Target whose values colour the UMAP (the first diagnosed target with a stored label by
        default).
    seed
        Seed of the UMAP layout.
    progress
        Show the progress of the figures (:func:`probekit.progress.progress`).
    """
    from probekit.progress import progress as progress_bar
    from probekit.report import figures

    run = run.engine_view()
    results, selection = run.results, run.selection
    order = {store: i for i, store in enumerate(run.stores)}
    diagnoses = sorted(diagnose(results, selection, thresholds), key=lambda d: order.get(d.store, len(order)))  # stable
    scored = [d for d in diagnoses if d.chosen is not None]
    skipped = [d for d in diagnoses if d.chosen is None]
    umap_store = _umap_store(run)
    if umap_target is not None and umap_store is not None:
        _umap_candidates(umap_store, diagnoses, umap_target)  # a wrong --umap-target is refused before any figure
    colors = figures.store_colors(run.stores)
    from probekit.report.sources import encoder_depths, slot_role_text, slot_roles, world_of

    depths = encoder_depths(run)
    world, _ = world_of(run)
    roles = slot_roles(world) if world is not None else {}

    n_curves = len({(d.target, d.slot) for d in scored})
    bar = progress_bar(total=5 + n_curves + len(run.stages), desc="report", unit="figure", enabled=progress)
    frames = _frames_section(run)
    bar.update(1)
    overview = Section("diagnosis", "Diagnosis")
    if scored:
        overview.figures.append(_render_figure(
            figures.diagnosis_summary(scored, colors=colors), "summary", "Chosen readout per target against its controls",
            "Dots: held-out score of the readout chosen by inner CV at its inner-CV layer, with the 95% bootstrap "
            "interval over families; grey bar: the control it must beat; triangle: ceiling; grey line: chance."))

    curves = Section("curves", "Layer-wise curves")
    seen: set[tuple[str, int]] = set()
    for d in scored:
        if (d.target, d.slot) in seen:
            continue
        seen.add((d.target, d.slot))
        fig = figures.layer_curves(results, d.target, d.slot, metric=d.metric, selection=selection, stores=run.stores, colors=colors,
                                   n_layers=depths, slot_roles=slot_role_text(roles, d.slot))
        curves.figures.append(_render_figure(
            fig, "curves", f"{d.name}: score by layer",
            f"{d.name}: {METRIC_NAMES.get(d.metric, d.metric)} on held-out families by layer."))
        bar.update(1)
    curves.intro = (
        "One panel per target: held-out score against encoder layer, one line per encoder (colour, the same in "
        "every figure) and readout (line style); bands: 95% bootstrap intervals over families; thin dashed: the "
        "nuisance baseline; dotted: the mask-geometry baseline of object-token readouts; black dashed: the ceiling "
        "(the readout on ground-truth masks and depth); grey: chance; stars: layers chosen by inner CV."
        + (" The stores differ in depth, so the x axis is relative depth: layer / the encoder's deepest layer "
           "(0 = embedding output, 1 = last layer)." if figures.depth_scale(results, run.stores, depths) is not None else ""))
    if not curves.figures:
        curves.absent = "No target has a finite score, so there are no curves."

    bar.update(1)
    heatmap = Section("heatmap", "Targets × layers")
    if scored:
        heatmap.figures.append(_render_figure(
            figures.layer_heatmap(results, selection=selection, stores=run.stores), "heatmap", "Targets × layers",
            "Each row is a target with the readout chosen by inner CV; colour puts metrics on one scale "
            "(0 = chance, 1 = perfect; R² as is, balanced accuracy and AUROC rescaled from chance); "
            "cell text is the raw score."))
    else:
        heatmap.absent = "No target has a finite score, so there is no heatmap."

    bar.update(1)
    select = Section("selectivity", "Control-task selectivity")
    has_selectivity = bool(((results["metric"] == "selectivity") & np.isfinite(results["score"])).any())
    if has_selectivity:
        select.figures.append(_render_figure(
            figures.selectivity(results, stores=run.stores, colors=colors, n_layers=depths), "selectivity", "Control-task selectivity",
            "Task score minus control-task score (Hewitt & Liang, 2019) per layer, control labels tied to "
            "attributes that recur across clips; near 0 means the probe could as well have memorised."))
    else:
        select.absent = "This run has no control-task rows (metric 'selectivity'), so selectivity is left out."

    scenario_table = _scenario_table(run, scored)
    scenarios = Section("scenarios", "Scores within each scenario")
    if scenario_table.empty:
        scenarios.absent = "This run has no per-scenario scores for the chosen readouts."
    else:
        scenarios.table = scenario_table
        scenarios.intro = "The readout and layer chosen by inner CV, scored within each scenario."

    comparisons = Section("comparisons", "Paired comparisons (bootstrap over families)")
    if run.comparisons.empty and run.gains.empty:
        comparisons.absent = "This run has no comparisons.csv."
    elif not run.gains.empty:
        comparisons.table = format_gains(run.gains)
        comparisons.intro = (
            "What each joint model [baseline + latents] adds over the baseline alone (versus —), and differences of "
            "those gains between stores (versus another store), paired over families; ΔR² for continuous targets, "
            "the reduction in cross-entropy in bits for binary ones, 95% intervals.")
    else:
        comparisons.table = _format_comparisons(run.comparisons)
        comparisons.intro = "Differences between stores or layers, paired over families (delta = a − b, 95% interval)."

    bar.update(1)
    umap_section = _umap_section(run, scored, umap_target, seed)
    bar.update(1)
    later = stage_sections(run)
    bar.update(len(run.stages))
    bar.close()

    manifest = run.manifest
    weights_lines = [
        f"{row['label']}: {row['encoder']} with {row['weights']}" for row in _store_provenance(run)
    ]
    headline = run_headline(scored, run.stores)
    verdicts = judge(run.gains, selection) if not run.gains.empty else []
    return {
        "verdict_table": headline_rows(verdicts, verdict_evidence(run)) if verdicts else None,
        "verdict_rules": VERDICT_RULES,
        "margins": GainMargins(),
        "title": f"probekit report: {run.path.name}",
        "run_path": str(run.path),
        "generated_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "manifest": manifest,
        "weights_lines": weights_lines,
        "any_random": any(str(run.input(s).get("weights", "")) == "random" for s in run.stores),
        "thresholds": thresholds,
        "headline": headline,
        "sentences": [(d.store, d.pattern, d.target, d.slot, sentence(d)) for d in scored],
        "diagnosis_table": _diagnosis_table(scored),
        "skipped": [(d.store, d.name, d.reason) for d in skipped],
        "sections": [overview, curves, heatmap, select, scenarios, comparisons, umap_section],
        "frames": frames,
        "slot_roles": [slot_role_text(roles, k) for k in range(max((len(v) for v in roles.values()), default=0))],
        "later_sections": later,
        "provenance": _store_provenance(run),
        "suite_json": json.dumps(manifest.get("suite", {}), indent=2, sort_keys=True, default=str),
        "versions": manifest.get("versions", {}),
    }


#: The verdict rules as the report prints them.
VERDICT_RULES = (
    ("n/a", "the target barely varies within scenarios (the scenario fixes it), or an object slot's target varies by less "
            "than 1% of its variance over all object slots (an object that never moves)."),
    ("not improved by training", "encoded, but so is the random-weight twin, equal within the paired interval of the difference."),
    ("over-invariant", "encoded, but below the random twin or the pixels, which carry the target (paired interval of the "
                       "difference below 0); or not encoded although the ceiling, the pixels or the twin carry the target "
                       "beyond nuisance and the encoder's gain is below theirs (paired interval of the difference below 0)."),
    ("entangled", "a pooled readout's gain is encoded, but the object-token readout adds nothing beyond mask geometry."),
    ("encoded", "otherwise, the gain over the nuisance baseline has its 95% interval above 0 and clears the margin."),
    ("too few families", "not encoded, with fewer than 20 families per scenario or a gain interval wider than twice the margin, "
                         "or a carrier (ceiling, pixels, twin) whose difference from the encoder is undecided."),
    ("not carried by the data", "the ceiling (ground truth on the token grid) adds nothing beyond nuisance, nor do pixels or twin."),
    ("baseline: …", "pixels, random-weight twin and shuffled frames are baselines: reported as carrying the target or not, never "
                    "given an encoder's failure verdict."),
)


def _format_comparisons(comparisons: pd.DataFrame) -> pd.DataFrame:
    """``comparisons.csv`` for people: numbers with 3 decimals, delta with its interval."""
    table = comparisons.copy()
    if {"delta", "ci_low", "ci_high"} <= set(table.columns):
        table["delta [95% CI]"] = [f"{fmt(d, signed=True)} [{fmt(lo, signed=True)}, {fmt(hi, signed=True)}]"
                                   for d, lo, hi in zip(table["delta"], table["ci_low"], table["ci_high"])]
        table = table.drop(columns=["delta", "ci_low", "ci_high"])
    return table


def render_html(context: dict[str, Any]) -> str:
    """Render the report template (jinja2, autoescaping on: every string from data is escaped)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("probekit.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    env.globals["target_name"] = target_name
    return env.get_template("report.html.j2").render(**context)


def write_report(
    run_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    overwrite: bool = False,
    umap_target: str | None = None,
    thresholds: Thresholds = Thresholds(),
    seed: int = 0,
    progress: bool = False,
) -> Path:
    """Write the HTML report of a run directory.

    Parameters
    ----------
    run_dir
        A run directory written by ``probekit probe``.
    out
        The HTML file to write (its folder is created); replaced atomically.
    overwrite
        Replace an existing file.
    umap_target
        Target that colours the UMAP.
    thresholds
        Margins the diagnosis uses.
    seed
        Seed of the UMAP layout.
    progress
        Show the progress of the figures.

    Returns
    -------
    Path
        ``out``.
    """
    from probekit.formats.atomic import atomic_write
    from probekit.h5io import check_writable_output

    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise BadOptionError(f"--out {out}: a report is one .html file; give a path ending in .html")
    run = load_run(run_dir).engine_view()
    if out.parent != Path("") and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    check_writable_output(out, overwrite=overwrite)
    html = render_html(build_context(run, thresholds=thresholds, umap_target=umap_target, seed=seed, progress=progress))
    return atomic_write(out, html)
