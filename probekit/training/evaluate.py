"""Held-out evaluation of a trained tiny V-JEPA 2: trained vs its random twin vs pixels.

The acceptance check of a training run (and of the shipped reference encoder): on worlds of
another seed, extract the trained model, its random-weight twin (the same seeded initial
weights, never trained) and the pixel baseline; compare the effective rank of their last-layer
pooled latents (collapse check); probe all three with the ``reference`` suite and read the
paired bootstrap comparisons at the layer each store's inner CV selected. On a violation-of-
expectation world set of its own (``probekit generate --voe``), score the three stores'
surprise per physical principle (the ``surprise`` stage: the V-JEPA 2 predictor for the trained
model and its twin, the latent dynamics probe for all three).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from probekit.errors import BadOptionError, FileFormatError
from probekit.formats.atomic import atomic_write
from probekit.training.monitor import effective_rank

#: Store labels of the three encoders compared (file stems in the evaluation folder).
TRAINED, RANDOM, PIXELS = "tiny-vjepa2", "tiny-vjepa2-random", "pixels"

#: The goal: the trained model beats its random twin on these (target, readout) pairs (object
#: slot 0, present in every clip), each at its inner-CV-selected layer, with a paired interval
#: that excludes zero.
GOAL_PAIRS: tuple[tuple[str, str], ...] = (("velocity", "object"), ("contact", "object"))

#: Name of the JSON summary written into the evaluation folder.
SUMMARY_NAME = "evaluation.json"


@dataclass
class ReferenceEvaluation:
    """What :func:`evaluate_reference` wrote and found."""

    out: Path
    summary: dict[str, Any]
    report: Path | None


def pooled_last_layer(store_path: Path) -> np.ndarray:
    """Mean-pooled latents of a store's last layer, (clips, dims) float64."""
    from probekit.formats.store import Store

    with Store(store_path) as store:
        return np.asarray(store.features(store.layers[-1], "mean"), dtype=np.float64)


def evaluate_reference(
    out: str | os.PathLike,
    *,
    weights: str | os.PathLike | None = None,
    clips: int = 256,
    seed: int = 3000,
    twin_seed: int | None = None,
    folds: int = 5,
    n_boot: int = 1000,
    threads: int = 2,
    report: bool = True,
    voe_clips: int = 180,
    log: Callable[[str], None] = print,
) -> ReferenceEvaluation:
    """Compare a trained tiny V-JEPA 2 with its random twin and pixels on held-out worlds.

    Parameters
    ----------
    out
        Folder for the held-out worlds, the three stores, the probe run, the report and
        ``evaluation.json`` / ``evaluation.md``. Existing complete files are reused, so an
        interrupted evaluation resumes.
    weights
        The trained weights (``model.safetensors`` of a ``probekit train`` run, or its ``model``
        folder); default: the weights shipped with probekit.
    clips
        Held-out families to generate.
    seed
        Seed of the held-out worlds; use one that differs from the recipe's training and
        monitor seeds.
    twin_seed
        Seed of the random twin: the recipe's ``optimization.seed`` gives the exact initial
        weights the training started from. Default: the seed in the ``recipe.json`` beside the
        weights (every ``probekit train`` export has one), else 0 (the shipped weights' seed).
        The twin has the architecture of the ``config.json`` beside the weights when there is
        one, so recipe variants (width, depth, predictor) are compared with their own twin.
    folds, n_boot
        Outer folds (grouped by family) and bootstrap replicates.
    threads
        CPU threads for extraction and probing.
    report
        Also write the HTML report of the probe run.
    voe_clips
        Families of the violation-of-expectation world set (seed ``seed + 1``) on which the
        three stores' surprise is scored per principle (``voe-surprise.csv``, the ``surprise``
        rows of the summary); 0 skips it.
    log
        Where progress lines go.

    Returns
    -------
    ReferenceEvaluation
        The folder, the summary (effective ranks, selected layers and scores, paired deltas,
        whether the goal was met) and the report path.
    """
    from probekit.encoders.tiny import TINY_VJEPA2_WEIGHTS
    from probekit.evaluation import run_probe
    from probekit.extraction.run import ExtractConfig, run_extract
    from probekit.rundir import load_run
    from probekit.worlds import generate_world

    weights_path = Path(weights) if weights is not None else TINY_VJEPA2_WEIGHTS
    if weights_path.is_dir():
        weights_path = weights_path / "model.safetensors"
    if not weights_path.is_file():
        raise BadOptionError(f"--weights {weights_path}: no such file; give a trained model.safetensors (probekit train writes DIR/model/model.safetensors)")
    if twin_seed is None:
        from probekit.training.loop import training_seed

        twin_seed = training_seed(weights_path.parent)
    if clips < 2 * folds:
        raise BadOptionError(f"--clips {clips}: too few for {folds} folds; use at least {2 * folds}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        seconds[name] = round(time.perf_counter() - clock, 1)
        clock = time.perf_counter()

    world = out / "heldout-worlds.h5"
    if not world.exists():
        log(f"evaluate: generating {clips} held-out families (seed {seed})")
        generate_world(world, clips=clips, seed=seed, progress=False)
    else:
        check_reused_world(world, clips=clips, seed=seed)
    lap("generate")

    def extract(label: str, encoder: str, data: Path = world, **options: Any) -> Path:
        path = out / f"{label}.h5"
        config = ExtractConfig(data=str(data), out=str(path), encoder=encoder, layers="all", pool="mean,time,object",
                               dtype="float32" if encoder == "pixels" else "float16", batch_size=8, device="cpu",
                               threads=threads, progress=False, **options)
        state = reused_store_state(config)
        if state != "complete":
            log(f"evaluate: {'resuming' if state == 'incomplete' else 'extracting'} {label}")
            config.resume = state == "incomplete"
            run_extract(config)
        return path

    options = {TRAINED: {"encoder_options": {"weights_path": str(weights_path)}},
               RANDOM: {"init": "random", "seed": twin_seed, "encoder_options": {"weights_path": str(weights_path)}}}
    stores = {
        TRAINED: extract(TRAINED, "tiny-vjepa2", **options[TRAINED]),
        RANDOM: extract(RANDOM, "tiny-vjepa2", **options[RANDOM]),
        PIXELS: extract(PIXELS, "pixels"),
    }
    lap("extract")

    ranks = {role: effective_rank(pooled_last_layer(path)) for role, path in stores.items()}
    roles = {_probe_label(path): role for role, path in stores.items()}
    log(f"evaluate: effective rank of last-layer pooled latents: trained {ranks[TRAINED]:.2f}, random twin {ranks[RANDOM]:.2f}")

    run_dir = out / "run"
    log("evaluate: probing trained, random twin and pixels (reference suite)")
    run_probe([stores[TRAINED], stores[RANDOM], stores[PIXELS]], run_dir, suite="reference", folds=folds, seed=seed,
              n_boot=n_boot, threads=threads, log=lambda line: log(f"  {line}"))
    lap("probe")
    run = load_run(run_dir).engine_view()
    from probekit.training.loop import file_sha256

    summary = summarize(run, ranks, roles, weights=weights_path.resolve(), weights_sha256=file_sha256(weights_path), clips=clips, seed=seed, twin_seed=twin_seed, folds=folds, n_boot=n_boot)
    if voe_clips:
        summary["setup"]["voe_clips"], summary["setup"]["voe_seed"] = voe_clips, seed + VOE_SEED_OFFSET
    summary["seconds"] = seconds
    atomic_write(out / SUMMARY_NAME, json.dumps(summary, indent=1) + "\n")
    atomic_write(out / "evaluation.md", summary_markdown(summary))
    if voe_clips:
        summary["surprise"] = _voe_surprise(out, voe_clips=voe_clips, seed=seed, extract=extract, options=options, folds=folds,
                                            n_boot=n_boot, log=log)
        lap("surprise")
        summary["seconds"] = seconds
        atomic_write(out / SUMMARY_NAME, json.dumps(summary, indent=1) + "\n")
        atomic_write(out / "evaluation.md", summary_markdown(summary))
    report_path = None
    if report:
        from probekit.report.build import write_report

        report_path = write_report(run_dir, out / "report.html", overwrite=True, seed=seed)
        lap("report")
    return ReferenceEvaluation(out, summary, report_path)


#: Offset of the VoE world seed from the held-out world seed (another set of families).
VOE_SEED_OFFSET = 1
#: The file (in the evaluation folder) holding the surprise stage's table on the VoE worlds.
SURPRISE_TABLE = "voe-surprise.csv"


def _voe_surprise(out: Path, *, voe_clips: int, seed: int, extract: Callable[..., Path], options: dict[str, dict[str, Any]],
                  folds: int, n_boot: int, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Surprise per principle for trained, twin and pixels on a VoE world set; headline rows.

    The trained model and its twin are extracted with ``--surprise`` (predictor surprise at the
    fixed headline context of 4 frames); every store also gets the latent dynamics probe, whose
    headline is its last layer. The whole table is written to :data:`SURPRISE_TABLE`.
    """
    from probekit.evaluation.run import run_stage_on_stores
    from probekit.worlds import VOE_PRESET, generate_world

    world = out / "voe-worlds.h5"
    voe_seed = seed + VOE_SEED_OFFSET
    if not world.exists():
        log(f"evaluate: generating {voe_clips} violation-of-expectation families (seed {voe_seed})")
        generate_world(world, clips=voe_clips, seed=voe_seed, scenarios=VOE_PRESET["scenarios"], violations=VOE_PRESET["violations"],
                       progress=False)
    else:
        check_reused_world(world, clips=voe_clips, seed=voe_seed)
    stores = {
        TRAINED: extract(f"{TRAINED}-voe", "tiny-vjepa2", data=world, surprise=True, **options[TRAINED]),
        RANDOM: extract(f"{RANDOM}-voe", "tiny-vjepa2", data=world, surprise=True, **options[RANDOM]),
        PIXELS: extract(f"{PIXELS}-voe", "pixels", data=world),
    }
    table, labels = run_stage_on_stores("surprise", [stores[TRAINED], stores[RANDOM], stores[PIXELS]], out, seed=seed, folds=folds,
                                        params={"n_boot": n_boot}, log=lambda line: log(f"  {line}"))
    if table is None:
        return []
    role_of = dict(zip(labels, (TRAINED, RANDOM, PIXELS)))
    table.to_csv(out / SURPRISE_TABLE, index=False)
    # the headline row of each (store, method, principle), or its n/a row with the reason
    headline = table[table["headline"].astype(bool) & table["metric"].isin(["relative_accuracy_mean", ""])]
    return [{"store": role_of.get(r.store, r.store), "method": r.method, "layer": int(r.layer), "context": int(r.context),
             "principle": r.principle, "n_pairs": int(r.n_pairs), "score": float(r.score), "ci_low": float(r.ci_low),
             "ci_high": float(r.ci_high), "note": str(r.note) if isinstance(r.note, str) else ""}
            for r in headline.itertuples()] if len(headline) else []


def check_reused_world(world: Path, *, clips: int, seed: int) -> None:
    """Refuse a held-out world file in ``--out`` made with another ``--clips`` or ``--seed``."""
    from probekit.h5io import get_attr, open_checked

    with open_checked(world, "world", resume_hint="delete it to generate it again") as f:
        found = (int(get_attr(f, "n_families", -1)), int(get_attr(f, "seed", -1)))
    if found != (int(clips), int(seed)):
        raise BadOptionError(f"--out {world.parent}: holds held-out worlds of --clips {found[0]} --seed {found[1]}, not "
                             f"--clips {clips} --seed {seed}; use another --out or the same options")


def reused_store_state(config: Any) -> str:
    """``missing``, ``incomplete`` (resume it) or ``complete`` (its weights checked) for a store evaluate reuses.

    A complete store is reused only when its ``weight_hash`` equals that of the encoder the
    evaluation would extract now (the same weights file, the same twin seed).

    Raises
    ------
    BadOptionError
        The store was extracted from other weights.
    """
    from probekit.encoders import create_encoder
    from probekit.extraction.writer import parts_dir_for
    from probekit.h5io import get_attr, open_checked

    path = Path(config.out)
    if not path.exists():
        return "incomplete" if parts_dir_for(path).exists() else "missing"
    try:
        store = open_checked(path, "store")
    except FileFormatError as exc:
        if "incomplete" in str(exc):
            return "incomplete"
        raise
    with store:
        found = str(get_attr(store, "weight_hash", ""))
        source = str(get_attr(store, "encoder_weights_file", ""))
    expected = create_encoder(config.encoder, init=config.init, seed=config.seed, **config.encoder_options).weight_hash()
    if found != expected:
        raise BadOptionError(f"--out {path.parent}: {path.name} was extracted from other weights ({source or 'weight hash ' + found[:12]}), "
                             f"not the ones evaluated now; use another --out or delete {path.name}")
    return "complete"


def comparison_verdict(comparison: dict[str, Any]) -> str:
    """``better``, ``worse`` or ``no difference``: where a paired 95% interval (``a - b``) lies against zero.

    ``higher_is_better`` False (errors such as ``geodesic_deg``) turns the direction round.
    """
    sign = 1.0 if comparison["higher_is_better"] else -1.0
    low, high = sorted((sign * comparison["ci_low"], sign * comparison["ci_high"]))
    return "better" if low > 0 else "worse" if high < 0 else "no difference"


def _store_of(name: str) -> str:
    """``tiny-vjepa2:trained@L3(selected)`` -> ``tiny-vjepa2:trained``."""
    return name.split("@", 1)[0]


def _probe_label(path: Path) -> str:
    """The label ``probekit probe`` gives a store (encoder:weights)."""
    from probekit.evaluation.inputs import store_label
    from probekit.formats.store import Store

    with Store(path) as store:
        return store_label(store.attrs, path)


def summarize(run: Any, ranks: dict[str, float], roles: dict[str, str], **setup: Any) -> dict[str, Any]:
    """The evaluation summary of a probe run over the three stores.

    Parameters
    ----------
    run
        A loaded run (:func:`probekit.rundir.load_run`) over the trained, random-twin and pixel
        stores.
    ranks
        Effective rank of each store's last-layer pooled latents, by role (:data:`TRAINED`,
        :data:`RANDOM`, :data:`PIXELS`).
    roles
        The probe run's label of each store -> its role.
    **setup
        Held-out set-up recorded as is (weights, clips, seed, ...).

    Returns
    -------
    dict
        ``setup``, ``effective_rank``, ``selected`` (per store, target and readout: the inner-CV
        layer, its held-out score and 95% interval), ``nuisance`` (the same metric from the
        nuisance variables alone: scenario, frame, object count and size), ``comparisons``
        (paired deltas between the stores at their selected layers) and ``goal``.
    """
    selection = run.selection
    chosen = selection[selection["choice"] == "layer"] if "choice" in selection else selection
    selected = [
        {"store": roles[r.store], "label": r.store, "target": r.target, "slot": r.slot, "readout": r.readout, "layer": int(r.layer), "metric": r.metric,
         "score": float(r.score), "ci_low": float(r.ci_low), "ci_high": float(r.ci_high)}
        for r in chosen.itertuples()
        if r.store in roles
    ]
    primary = {(r.target, r.slot, r.readout): r.metric for r in chosen.itertuples()}
    results = run.results
    baseline_rows = results[(results["store"] == "labels") & (results["control"] == "nuisance") & (results["scenario"] == "all")]
    nuisance = [
        {"target": r.target, "slot": r.slot, "readout": r.readout, "metric": r.metric, "score": float(r.score),
         "ci_low": float(r.ci_low), "ci_high": float(r.ci_high)}
        for r in baseline_rows.itertuples()
        if r.metric in {m for (t, sl, _), m in primary.items() if t == r.target and sl == r.slot}
    ]
    comparisons = []
    for r in run.comparisons.itertuples():
        a, b = _store_of(r.a), _store_of(r.b)
        if a in roles and b in roles:
            comparisons.append(
                {"target": r.target, "slot": r.slot, "readout": r.readout, "metric": r.metric, "a": roles[a], "b": roles[b],
                 "a_selected": r.a, "b_selected": r.b,
                 "delta": float(r.delta), "ci_low": float(r.ci_low), "ci_high": float(r.ci_high),
                 "higher_is_better": bool(r.higher_is_better)}
            )
    goal = []
    for target, readout in GOAL_PAIRS:
        match = [c for c in comparisons if c["target"] == target and c["readout"] == readout and str(c["slot"]) == "0"
                 and c["a"] == TRAINED and c["b"] == RANDOM]
        if not match:
            goal.append({"target": target, "readout": readout, "met": False, "why": "not probed"})
            continue
        c = match[0]
        goal.append({"target": target, "readout": readout, "met": comparison_verdict(c) == "better", "delta": c["delta"], "ci_low": c["ci_low"],
                     "ci_high": c["ci_high"], "metric": c["metric"], "a": c["a_selected"], "b": c["b_selected"]})
    return {
        "setup": {k: str(v) if isinstance(v, Path) else v for k, v in setup.items()},
        "effective_rank": {**{k: float(v) for k, v in ranks.items()}, "ratio_trained_to_random": float(ranks[TRAINED] / max(ranks[RANDOM], 1e-12))},
        "selected": selected,
        "nuisance": nuisance,
        "comparisons": comparisons,
        "goal": goal,
    }


def summary_markdown(summary: dict[str, Any]) -> str:
    """Markdown tables of an evaluation summary (for the model card)."""
    setup, ranks = summary["setup"], summary["effective_rank"]
    lines = [
        "## Held-out evaluation",
        "",
        f"{setup['clips']} held-out families (world seed {setup['seed']}); random twin = the same architecture at "
        f"its seeded initial weights (seed {setup['twin_seed']}); pixels = the pixel baseline. {setup['folds']} outer folds "
        f"grouped by family; layers chosen by inner CV; 95% intervals from {setup['n_boot']} family bootstraps.",
        "",
        f"Effective rank of last-layer mean-pooled latents: trained {ranks[TRAINED]:.2f}, random twin {ranks[RANDOM]:.2f} "
        f"(ratio {ranks['ratio_trained_to_random']:.2f}; no-collapse criterion >= 0.5), pixels {ranks[PIXELS]:.2f}.",
        "",
        "Held-out scores of object slot 0 (present in every clip; slots 1-2 exist only in multi-object scenes",
        "and are in `evaluation.json`), at the layer chosen by inner CV (the most frequent over folds is",
        "named). `nuisance` is the same linear readout on scenario, frame index, object count and size",
        "alone: what a probe gets without looking at the video.",
        "",
        "| target | readout | metric | " + " | ".join(f"{s} (layer)" for s in (TRAINED, RANDOM, PIXELS)) + " | nuisance |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    rows: dict[tuple, dict[str, dict]] = {}
    for s in summary["selected"]:
        if str(s["slot"]) == "0":
            rows.setdefault((s["target"], s["readout"], s["metric"]), {})[s["store"]] = s
    baseline = {(b["target"], b["metric"]): b for b in summary.get("nuisance", []) if str(b["slot"]) == "0"}
    for (target, readout, metric), by_store in sorted(rows.items()):
        cells = []
        for store in (TRAINED, RANDOM, PIXELS):
            s = by_store.get(store)
            cells.append(f"{s['score']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}] (L{s['layer']})" if s else "")
        b = baseline.get((target, metric))
        cells.append(f"{b['score']:.3f} [{b['ci_low']:.3f}, {b['ci_high']:.3f}]" if b else "")
        lines.append(f"| {target} | {readout} | {metric} | " + " | ".join(cells) + " |")
    from probekit.evaluation.scoring import HIGHER_IS_BETTER

    matched = []
    for (target, readout, metric), by_store in sorted(rows.items()):
        s, b = by_store.get(TRAINED), baseline.get((target, metric))
        if s is not None and b is not None:
            sign = 1.0 if HIGHER_IS_BETTER.get(metric, True) else -1.0
            if sign * (s["score"] - b["score"]) <= 0:
                matched.append(f"{target} ({readout})")
    if matched:
        lines += ["", "Caveat: the nuisance variables alone score at least as well as the trained model on "
                  + ", ".join(matched) + "; in these worlds, scenario and time explain much of those quantities."]
    lines += ["", "Paired differences at the selected layers, slot 0 (a − b, 95% interval over families; for",
              "`geodesic_deg` lower is better):", "",
              "| target | readout | metric | a | b | delta | interval |", "|---|---|---|---|---|---:|---|"]
    for c in sorted(summary["comparisons"], key=lambda c: (c["target"], c["readout"], c["a"], c["b"])):
        if str(c["slot"]) != "0":
            continue
        lines.append(f"| {c['target']} | {c['readout']} | {c['metric']} | {c['a_selected']} | {c['b_selected']} | "
                     f"{c['delta']:+.3f} | [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}] |")
    lines += ["", "Goal (trained beats its random twin, interval excluding zero):", ""]
    for g in summary["goal"]:
        if "delta" in g:
            lines.append(f"- {g['target']} ({g['readout']} readout): {'met' if g['met'] else 'NOT met'}, "
                         f"{g['metric']} delta {g['delta']:+.3f} [{g['ci_low']:+.3f}, {g['ci_high']:+.3f}]")
        else:
            lines.append(f"- {g['target']} ({g['readout']} readout): NOT met ({g['why']})")
    lines += surprise_markdown(summary.get("surprise", []), summary["setup"].get("voe_clips"))
    return "\n".join(lines) + "\n"


def surprise_markdown(rows: list[dict[str, Any]], voe_clips: int | None) -> list[str]:
    """The model card's surprise table: relative accuracy (mean surprise) per principle and store."""
    if not rows:
        return []
    principles = list(dict.fromkeys(r["principle"] for r in rows))
    lines = ["", "## Surprise on violation-of-expectation twins", "",
             f"{voe_clips} families of `probekit generate --voe` (another world seed). Relative accuracy: the share of "
             "matched pairs whose impossible twin is more surprising than its possible original (mean surprise over "
             "windows that include or follow the violation; 0.5 = chance; 95% family-bootstrap interval). `predictor` = "
             "the V-JEPA 2 predictor at the fixed headline context of 4 frames; `dynamics` = a ridge from two steps of "
             "last-layer pooled latents to the next, fitted on possible clips of training families.", "",
             "| store | method | " + " | ".join(principles) + " |", "|---|---|" + "---:|" * len(principles)]
    for (store, method), group in _grouped(rows):
        by_principle = {r["principle"]: r for r in group}
        cells = []
        for p in principles:
            r = by_principle.get(p)
            if r is None:
                cells.append("")
            elif np.isfinite(r["score"]):
                cells.append(f"{r['score']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}] (n={r['n_pairs']})")
            else:
                cells.append(f"n/a (n={r['n_pairs']})")
        lines.append(f"| {store} | {method} | " + " | ".join(cells) + " |")
    return lines


def _grouped(rows: list[dict[str, Any]]) -> list[tuple[tuple[str, str], list[dict[str, Any]]]]:
    order: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        order.setdefault((r["store"], r["method"]), []).append(r)
    return list(order.items())
