"""``run_attribute``: the library entry point behind ``probekit attribute``.

Reads a run directory, the world file its stores were extracted from and the encoder weights the
stores name (it re-runs the model), explains the run's linear probes with captum, and adds to the
run: ``attribution.h5`` (the maps in frame pixels; schema in docs/formats.md) and the
``attribution`` table (``tables/attribution.parquet``). Clips are committed one at a time
(``.attribution-units/``), so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from probekit.attribution.geometry import masks_to_input, to_frame_pixels
from probekit.attribution.methods import METHODS, MethodOptions, ablation_groups, get_method
from probekit.attribution.model import ProbedEncoder, encoder_input, supports
from probekit.attribution.probes import explained_step, fit_fold_probes
from probekit.attribution.randomisation import random_probe, randomised_copies
from probekit.attribution.scores import energy_pointing_game, mask_share, pointing_game, rank_correlation
from probekit.devices import pick_device
from probekit.errors import BadOptionError
from probekit.formats.atomic import atomic_path, exclusive_output

#: File name of the maps inside the run directory.
ATTRIBUTION_FILE = "attribution.h5"
#: Stage name (table ``tables/attribution.parquet``, manifest ``stages``).
STAGE = "attribution"
UNITS_DIR = ".attribution-units"
BASELINES = ("black", "static")
#: Spearman rank correlation above which a method fails the randomisation test.
RANDOMISATION_FLAG = 0.5


@dataclass
class AttributeConfig:
    """Options of ``probekit attribute`` (see its help)."""

    run: Path
    data: Path
    targets: list[str] = field(default_factory=lambda: ["contact", "velocity"])
    slots: list[int] = field(default_factory=lambda: [0])
    methods: list[str] = field(default_factory=lambda: ["ig"])
    clips: int = 16
    baseline: str = "black"
    stores: list[str] | None = None
    readout: str = "linear"
    layer: int | None = None
    tolerance: float = 0.0
    sanity_clips: int = 2
    device: str = "cpu"
    n_steps: int = 32
    n_boot: int = 1000
    seed: int = 0


def _validate(config: AttributeConfig) -> None:
    if not config.targets:
        raise BadOptionError("--targets: empty; give a comma list of per-step targets such as contact,velocity")
    if not config.methods:
        raise BadOptionError("--method: empty; give a comma list of ig, saliency, smoothgrad, occlusion, ablation")
    if not config.slots:
        raise BadOptionError("--slots: empty; give a comma list of object slots such as 0,1")
    negative = [slot for slot in config.slots if slot < 0]
    if negative:
        raise BadOptionError(f"--slots {negative[0]}: slots are numbered from 0 (slot 0 is the world's first object)")
    if config.layer is not None and config.layer < 0:
        raise BadOptionError(f"--layer {config.layer}: layers are numbered from 0 (hidden state 0 is the embedding); "
                             "leave it out to explain the layer the run's inner CV chose")
    if config.clips < 1:
        raise BadOptionError(f"--clips {config.clips}: give at least 1 clip")
    if config.baseline not in BASELINES:
        raise BadOptionError(f"--baseline {config.baseline!r}: use black or static")
    for method in config.methods:
        get_method(method)
    if config.n_steps < 2:
        raise BadOptionError(f"--n-steps {config.n_steps}: integrated gradients needs at least 2 steps")
    if config.tolerance < 0 or not np.isfinite(config.tolerance):
        raise BadOptionError(f"--tolerance {config.tolerance}: give a finite distance >= 0 in pixels")
    if config.sanity_clips < 0:
        raise BadOptionError(f"--sanity-clips {config.sanity_clips}: give 0 or more")
    if not Path(config.data).is_file():
        raise BadOptionError(f"--data {config.data}: no such world file; pass the world file the run's stores were extracted from")
    from probekit.formats.world import WorldFile

    with WorldFile(config.data) as world:
        try:
            slots = world.k_max
        except KeyError:  # a world file without objects has no slot to explain
            slots = 0
    beyond = [slot for slot in config.slots if slot >= slots]
    if beyond:
        raise BadOptionError(f"--slots {beyond[0]}: the world file has {slots} object slots" + (f" (0 .. {slots - 1})" if slots else ""))


def _encoder_for(store, label: str):
    from probekit.encoders import create_encoder

    attrs = store.attrs
    name, init = str(attrs.get("encoder", "")), str(attrs.get("init", "pretrained"))
    options = {}
    if attrs.get("encoder_weights_file"):
        options["weights_path"] = attrs["encoder_weights_file"]
    if name == "pixels":
        config = attrs.get("config") or {}
        options.update({k: int(config[k]) for k in ("size", "patch") if k in config})
    try:
        encoder = create_encoder(name, init=init, seed=int(attrs.get("encoder_seed", 0) or 0), **options)
    except BadOptionError as exc:
        raise BadOptionError(f"store {label!r}: its encoder {name!r} cannot be re-created here ({exc})") from None
    if not supports(encoder):
        return None
    recorded = str(attrs.get("weight_hash", ""))
    if recorded and recorded != "none" and encoder.weight_hash() != recorded:
        raise BadOptionError(
            f"store {label!r}: the weights of {name!r} here differ from those the store was extracted with "
            f"(weight hash {recorded[:12]}); attribute with the same weights"
        )
    return encoder


def _world_source(store, data: Path):
    from probekit.sources import WorldSource

    attrs = store.attrs
    if attrs.get("source_format") != "probekit.world":
        raise BadOptionError(f"store {store.path}: extracted from {attrs.get('source_format')!r}, not a world file; attribution needs world masks")
    sampling = attrs.get("sampling") or {}
    if int(sampling.get("windows_per_clip", 1) or 1) != 1:
        raise BadOptionError(f"store {store.path}: extracted with several windows per clip; attribute a store of whole clips")
    source = WorldSource(data, frame_step=int(sampling.get("frame_step", 1)), window=sampling.get("window"), start=int(sampling.get("start", 0)))
    if source.content_hash() != attrs.get("source_hash"):
        source.close()
        raise BadOptionError(f"--data {data}: not the world file store {store.path.name} was extracted from (content hash differs); pass that file")
    return source


def _chosen_layer(run, label: str, target: str, slot: int, readout: str, store) -> int:
    """The layer the run's inner CV chose in most outer folds for this readout, else the store's last layer."""
    selection = run.selection
    if not selection.empty and {"store", "target", "slot", "readout", "choice", "per_fold"} <= set(selection.columns):
        rows = selection[(selection["store"] == label) & (selection["target"] == target) & (selection["readout"] == readout)
                         & (selection["choice"].astype(str) == "layer")]
        rows = rows[pd.to_numeric(rows["slot"], errors="coerce").fillna(-1).astype(int).isin([slot, -1])]
        chosen: list[int] = []
        for value in rows["per_fold"]:
            try:
                parsed = json.loads(value) if isinstance(value, str) else list(value)
            except (TypeError, ValueError):
                continue
            chosen += [int(v) for v in parsed if str(v).lstrip("-").isdigit() and int(v) in store.layers]
        if chosen:
            values, counts = np.unique(chosen, return_counts=True)
            return int(values[counts == counts.max()].max())  # ties: the deeper layer
    return int(store.layers[-1])


def _bootstrap(values: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if len(values) < 2 or n_boot < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def _unit_key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_attribute(config: AttributeConfig, log: Callable[[str], None] | None = None) -> Path:
    """Explain a run's probes and add the maps and the ``attribution`` table to the run.

    Parameters
    ----------
    config
        The options.
    log
        Progress callback (one line per call).

    Returns
    -------
    pathlib.Path
        The written ``attribution.h5``.
    """
    from probekit.formats.run import read_manifest
    from probekit.rundir import load_run

    _validate(config)
    config = replace(config, device=str(pick_device(config.device)))  # auto, cuda, cuda:N checked and resolved
    read_manifest(config.run)  # a finished run directory, or one error line, before its lock is taken
    run_path = Path(config.run)
    quiet = log is None
    log = log or (lambda line: None)
    out = run_path / ATTRIBUTION_FILE
    # the run directory's own lock (the one `probekit probe --out` holds) and the maps file's
    with exclusive_output(run_path, option="RUN"), exclusive_output(out, option="RUN"):
        run = load_run(run_path).engine_view()
        labels = config.stores or [s for s in run.stores if run.store_path(s) is not None]
        if not labels:
            raise BadOptionError(f"{run.path}: none of the run's latent stores is on disk; attribution re-reads them")
        units = run.path / UNITS_DIR
        units.mkdir(exist_ok=True)
        options = MethodOptions(n_steps=config.n_steps, seed=config.seed)
        suite_params = (run.manifest.get("suite") or {}).get("readouts", {}).get(config.readout, {})
        rows, kept, skipped = [], [], {}
        from probekit.progress import progress

        per_store = len(config.targets) * len(config.slots) * len(config.methods) * config.clips
        with progress(total=len(labels) * per_store, desc="attribute", unit="clip x method", enabled=quiet is False) as bar:
            for label in labels:
                path = run.store_path(label)
                if path is None:
                    raise BadOptionError(f"--stores {label}: not a store of this run with its file on disk; stores: {', '.join(run.stores)}")
                rows_store, kept_store = _attribute_store(run, label, path, config, options, suite_params, units, skipped, log, bar)
                rows += rows_store
                kept += kept_store
        if not kept:
            reasons = "; ".join(f"{k}: {v}" for k, v in skipped.items()) or "no clip had a sample of the targets"
            raise BadOptionError(f"attribute: nothing to explain ({reasons})")
        _write_maps(out, kept, config)
        table = pd.DataFrame(rows)
        _finish_run(run, table, config, skipped)
        shutil.rmtree(units, ignore_errors=True)
    return out


def _attribute_store(run, label, path, config, options, suite_params, units, skipped, log, bar):
    from probekit.encoders.base import Geometry
    from probekit.store import Store

    rows, kept = [], []
    with Store(path) as store:
        try:
            encoder = _encoder_for(store, label)
        except BadOptionError as exc:
            if config.stores:  # named by the user: say why it cannot be explained
                raise
            skipped[label] = str(exc)
            bar.total -= len(config.targets) * len(config.slots) * len(config.methods) * config.clips
            return rows, kept
        if encoder is None:
            skipped[label] = f"encoder {store.attrs.get('encoder')!r} is not differentiable by probekit"
            bar.total -= len(config.targets) * len(config.slots) * len(config.methods) * config.clips
            return rows, kept
        encoder.to(config.device)
        for module in encoder.modules():
            module.eval().requires_grad_(False)
        source = _world_source(store, Path(config.data))
        try:
            height, width = source.frame_size
            geometry: Geometry = encoder.geometry(height, width)
            layout = encoder.layout(source.n_frames, height, width)
            folds, seed = int(run.manifest.get("folds", 5)), int(run.manifest.get("seed", 0))
            coverage_all = store.labels("token_coverage") if "token_coverage" in store.label_names else None
            for target in config.targets:
                for slot in config.slots:
                    layer = config.layer if config.layer is not None else _chosen_layer(run, label, target, slot, config.readout, store)
                    key = f"{label}/{target}/s{slot}"
                    try:
                        probes = fit_fold_probes(store, target, slot, config.readout, layer, folds=folds, seed=seed, params=suite_params)
                    except BadOptionError as exc:
                        skipped[key] = str(exc)
                        bar.total -= len(config.methods) * config.clips
                        continue
                    candidates = [int(c) for c in np.unique(probes.clip)]
                    rng = np.random.default_rng(config.seed)
                    chosen = sorted(rng.permutation(candidates)[: config.clips].tolist())
                    bar.total -= len(config.methods) * (config.clips - len(chosen))
                    for method in config.methods:
                        per_clip = []
                        for n, clip in enumerate(chosen):
                            step = explained_step(probes, clip)
                            unit = {"store": label, "hash": store.attrs.get("weight_hash"), "target": target, "slot": slot,
                                    "method": method, "clip": clip, "layer": layer, "readout": config.readout,
                                    "baseline": config.baseline, "options": asdict(options), "tolerance": config.tolerance,
                                    "sanity": n < config.sanity_clips}
                            unit_path = units / f"{_unit_key(unit)}.npz"
                            result = _load_unit(unit_path)
                            if result is None:
                                result = _explain_clip(encoder, geometry, layout, source, probes, clip, step, slot, layer,
                                                       method, config, options, coverage_all, n < config.sanity_clips)
                                with atomic_path(unit_path) as tmp:
                                    with open(tmp, "wb") as handle:
                                        np.savez(handle, **result)
                            per_clip.append(result)
                            bar.update(1)
                            kept.append({"store": label, "target": target, "slot": slot, "method": method, "clip": clip,
                                         "step": step, "layer": layer, **result})
                        rows += _summarise(label, target, slot, layer, method, config, per_clip, store.attrs)
                        log(f"attribute {label} {target} slot {slot} {method}: {len(per_clip)} clips")
        finally:
            source.close()
    return rows, kept


def _load_unit(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError):
        return None


def _explain_clip(encoder, geometry, layout, source, probes, clip, step, slot, layer, method, config, options,
                  coverage_all, sanity: bool) -> dict:
    from probekit.extraction.align import visible_masks

    batch = source.read(clip, clip + 1)
    video = batch.video
    fold = int(probes.clip_fold[clip])
    probe = probes.probes[fold]
    coverage = None if coverage_all is None else np.asarray(coverage_all[clip, :, slot], dtype=np.float64)
    model = ProbedEncoder(encoder, layer, probe, step, layout, coverage=coverage if probe.features == "object" else None)
    x = encoder_input(encoder, video).to(config.device)
    base_video = np.zeros_like(video) if config.baseline == "black" else np.repeat(video[:, :1], video.shape[1], axis=1)
    baseline = encoder_input(encoder, base_video).to(config.device)
    k_max = int(source.k_max)
    masks = masks_to_input(visible_masks(batch.labels["video/segmentation"], k_max)[0], geometry)  # (T, K, h, w)
    tubelet = int(layout.token_frames[0][1] - layout.token_frames[0][0] + 1)
    function = get_method(method)
    if method == "occlusion":
        function = functools.partial(function, tubelet=tubelet, patch=int(layout.patch[0]))
    groups = ablation_groups(masks, tuple(x.shape)).to(config.device) if method == "ablation" else None
    attribution, delta = function(model, x.clone().requires_grad_(method != "occlusion" and method != "ablation"), baseline, options, groups)
    amap = attribution.detach().sum(dim=2)[0].cpu().numpy().astype(np.float64)  # (T, h, w)
    with torch.no_grad():
        gap = float((model(x) - model(baseline)).abs()[0])
    own = masks[:, slot]
    others = np.delete(masks, slot, axis=1).any(axis=1) & ~own if masks.shape[1] > 1 else np.zeros_like(own)
    frame_map = to_frame_pixels(amap, geometry).astype(np.float16)
    frame_index = min(int(layout.token_frames[step][0]), video.shape[1] - 1)
    result = {
        "map": frame_map,
        "frame": video[0, frame_index],
        "frame_index": np.int64(frame_index),
        "energy": np.float64(energy_pointing_game(amap, own)),
        "chance": np.float64(mask_share(own)),
        "pointing": np.float64(pointing_game(amap, own, config.tolerance)),
        "leakage": np.float64(energy_pointing_game(amap, others) if others.any() else np.nan),
        "delta": np.float64(delta),
        "gap": np.float64(gap),
        "fold": np.int64(fold),
    }
    if sanity:
        names, rhos = [], []
        random_model = ProbedEncoder(encoder, layer, type(probe)(random_probe(probe.coef, config.seed), probe.intercept, probe.features),
                                     step, layout, coverage=model.weights.cpu().numpy() if probe.features == "object" else None)
        names.append("probe")
        rhos.append(rank_correlation(amap, _map_of(function, random_model, x, baseline, options, groups)))
        for name, copy in randomised_copies(encoder, config.seed):
            if name.startswith("layer.") and int(name.split(".")[1]) >= layer:
                # a block above the probe's layer (hidden state ``layer`` is block ``layer - 1``'s output) cannot
                # change the explained function: its step equals the probe step's value
                names.append(name)
                rhos.append(rhos[0])
                continue
            cascade_model = ProbedEncoder(copy, layer, type(probe)(random_probe(probe.coef, config.seed), probe.intercept, probe.features),
                                          step, layout, coverage=model.weights.cpu().numpy() if probe.features == "object" else None)
            names.append(name)
            rhos.append(rank_correlation(amap, _map_of(function, cascade_model, x, baseline, options, groups)))
        result["cascade_names"] = np.array(names)
        result["cascade_spearman"] = np.array(rhos, dtype=np.float64)
    return result


def _map_of(function, model, x, baseline, options, groups) -> np.ndarray:
    attribution, _ = function(model, x.clone().requires_grad_(True), baseline, options, groups)
    return attribution.detach().sum(dim=2)[0].cpu().numpy().astype(np.float64)


def _summarise(label, target, slot, layer, method, config, per_clip, attrs) -> list[dict]:
    base = {"store": label, "encoder": attrs.get("encoder", ""), "weights": attrs.get("weights", ""), "target": target,
            "slot": slot, "layer": layer, "readout": config.readout, "method": method, "baseline": config.baseline}
    rows = []
    for metric, key in (("energy_pointing_game", "energy"), ("energy_chance", "chance"), ("pointing_game", "pointing"),
                        ("leakage", "leakage"), ("completeness_gap", "delta")):
        values = np.array([float(r[key]) for r in per_clip], dtype=np.float64)
        if metric == "completeness_gap":
            if method != "ig":
                continue
            gaps = np.array([float(r["gap"]) for r in per_clip])
            values = values / np.maximum(gaps, 1e-12)
        low, high = _bootstrap(values, config.n_boot, config.seed)
        finite = values[np.isfinite(values)]
        rows.append({**base, "metric": metric, "step": "", "value": float(finite.mean()) if len(finite) else float("nan"),
                     "ci_low": low, "ci_high": high, "n_clips": int(len(finite)), "flagged": False})
    sanity = [r for r in per_clip if "cascade_spearman" in r]
    if sanity:
        names = [str(n) for n in sanity[0]["cascade_names"]]
        rhos = np.stack([r["cascade_spearman"] for r in sanity])
        for i, name in enumerate(names):
            column = rhos[:, i]
            low, high = _bootstrap(column, config.n_boot, config.seed)
            full = i == len(names) - 1
            mean = float(np.nanmean(column)) if np.isfinite(column).any() else float("nan")
            rows.append({**base, "metric": "randomisation_spearman", "step": name, "value": mean, "ci_low": low, "ci_high": high,
                         "n_clips": int(np.isfinite(column).sum()), "flagged": bool(full and mean > RANDOMISATION_FLAG)})
    return rows


def _write_maps(out: Path, kept: list[dict], config: AttributeConfig) -> None:
    import h5py

    from probekit.h5io import set_attr

    with atomic_path(out) as tmp:
        with h5py.File(tmp, "w") as handle:
            set_attr(handle, "format", "probekit.attribution")
            set_attr(handle, "schema_version", 1)
            set_attr(handle, "baseline", config.baseline)
            set_attr(handle, "tolerance", config.tolerance)
            set_attr(handle, "n_steps", config.n_steps)
            keys = sorted({(k["store"], k["target"], k["slot"], k["method"]) for k in kept})
            for store, target, slot, method in keys:
                items = [k for k in kept if (k["store"], k["target"], k["slot"], k["method"]) == (store, target, slot, method)]
                group = handle.require_group(f"maps/{store}/{target}/slot{slot}/{method}")
                group.create_dataset("map", data=np.stack([k["map"] for k in items]), compression="gzip")
                group.create_dataset("frame", data=np.stack([k["frame"] for k in items]), compression="gzip")
                for name in ("clip", "step", "layer", "frame_index"):
                    group.create_dataset(name, data=np.array([int(k[name]) for k in items], dtype=np.int64))
                for name in ("energy", "chance", "pointing", "leakage"):
                    group.create_dataset(name, data=np.array([float(k[name]) for k in items], dtype=np.float64))
            set_attr(handle, "complete", True)


def _finish_run(run, table: pd.DataFrame, config: AttributeConfig, skipped: dict) -> None:
    from probekit.formats.run import add_stage_to_run

    add_stage_to_run(run.path, STAGE, table, {
        "data": os.path.relpath(Path(config.data).resolve(), run.path.resolve()), "methods": config.methods,
        "baseline": config.baseline, "clips": config.clips, "readout": config.readout, "tolerance": config.tolerance,
        "n_steps": config.n_steps, "skipped": skipped,
    })


__all__ = ["ATTRIBUTION_FILE", "AttributeConfig", "METHODS", "run_attribute"]
