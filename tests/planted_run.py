"""A run directory with planted numbers whose right diagnosis is written down (test helper).

Built with pandas as docs/formats.md and the probe engine lay a run directory out, so the report
can be tested against a known answer independently of the probe engine: two stores, ``planted``
(layers 0-3) and the pixel baseline ``pixels`` (layer 0, rows with control ``pixels``); the
label-only baselines (nuisance, mask geometry, ceiling) in the ``labels`` pseudo-store at layer
-1; ``selection.csv`` with ``choice`` = ``layer`` / ``readout`` rows whose score is the nested
selection's (here 0.01 below the row at the modal layer, so a report quoting the wrong one is
caught). A small latent store on disk for the UMAP when ``with_store`` is set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

#: The diagnosis a correct report states, per (store, target, slot).
EXPECTED = {
    ("planted", "position_camera", 0): "encoded",
    ("planted", "acceleration_world", 0): "over-invariant",  # ceiling shows the data carry it
    ("planted", "velocity_world", 0): "over-invariant",  # only the pixel baseline shows it
    ("planted", "contact_interval", 0): "entangled",
    ("planted", "gravity", -1): "not carried",
}

#: Layer and readout chosen by inner CV (selection.csv) and the nested score the report must quote.
CHOSEN = {
    ("planted", "position_camera", 0): ("object", 2, 0.84),
    ("planted", "acceleration_world", 0): ("mlp", 3, 0.04),
    ("planted", "velocity_world", 0): ("linear", 1, 0.03),
    ("planted", "contact_interval", 0): ("mlp", 2, 0.87),
    ("planted", "gravity", -1): ("linear", 1, 0.0),
}
NESTED_OFFSET = -0.01

UNITS = {"position_camera": "m", "acceleration_world": "m/s^2", "velocity_world": "m/s", "contact_interval": "1", "gravity": "m/s^2"}
METRICS = {"contact_interval": "balanced_accuracy"}

# (store, target, slot, readout) -> scores per layer (control "none")
CURVES = {
    ("planted", "position_camera", 0, "linear"): [0.10, 0.50, 0.80, 0.83],  # best test layer 3, inner CV picks 2
    ("planted", "position_camera", 0, "object"): [0.30, 0.60, 0.85, 0.80],
    ("planted", "position_camera", 0, "mlp"): [0.15, 0.55, 0.82, 0.75],
    ("planted", "acceleration_world", 0, "linear"): [0.01, 0.02, 0.03, 0.02],
    ("planted", "acceleration_world", 0, "object"): [0.02, 0.03, 0.04, 0.03],
    ("planted", "acceleration_world", 0, "mlp"): [0.01, 0.02, 0.04, 0.05],
    ("planted", "velocity_world", 0, "linear"): [0.02, 0.04, 0.03, 0.01],
    ("planted", "contact_interval", 0, "linear"): [0.60, 0.75, 0.86, 0.80],
    ("planted", "contact_interval", 0, "object"): [0.60, 0.61, 0.62, 0.60],
    ("planted", "contact_interval", 0, "mlp"): [0.62, 0.78, 0.88, 0.84],
    ("planted", "gravity", -1, "linear"): [0.00, 0.01, -0.02, 0.00],
    ("pixels", "position_camera", 0, "linear"): [0.60],
    ("pixels", "acceleration_world", 0, "linear"): [0.03],
    ("pixels", "velocity_world", 0, "linear"): [0.50],
    ("pixels", "contact_interval", 0, "linear"): [0.70],
    ("pixels", "gravity", -1, "linear"): [0.02],
}

# label-only baselines: (target, slot, readout, control) -> score, in the "labels" store at layer -1
CONTROLS = {
    ("position_camera", 0, "object", "geometry"): 0.50,
    ("acceleration_world", 0, "object", "geometry"): 0.02,
    ("contact_interval", 0, "object", "geometry"): 0.60,
    ("position_camera", 0, "linear", "ceiling"): 0.90,
    ("acceleration_world", 0, "linear", "ceiling"): 0.55,
    ("contact_interval", 0, "linear", "ceiling"): 0.95,
    ("gravity", -1, "linear", "ceiling"): 0.01,
}
NUISANCE = {"position_camera": 0.10, "acceleration_world": 0.02, "velocity_world": 0.01, "contact_interval": 0.55, "gravity": 0.00}
HALF_WIDTH = 0.03


def _row(store: str, layer: int, target: str, slot: int, readout: str, control: str, score: float,
         metric: str, scenario: str = "all", half: float = HALF_WIDTH) -> dict:
    encoder, weights = {"pixels": ("pixels", "none"), "labels": ("", "")}.get(store, ("planted", "planted"))
    folds = [round(score + d, 4) for d in (-0.02, -0.01, 0.0, 0.01, 0.02)]
    return {
        "store": store, "store_hash": f"hash-{store}", "encoder": encoder, "weights": weights,
        "layer": layer, "target": target, "slot": slot, "readout": readout, "control": control,
        "scenario": scenario, "metric": metric, "score": score, "ci_low": score - half, "ci_high": score + half,
        "fold_scores": json.dumps(folds), "n": 480, "n_families": 48, "unit": UNITS.get(target, "1"), "note": "",
    }


def planted_results() -> pd.DataFrame:
    """The planted results table."""
    rows: list[dict] = []
    for (store, target, slot, readout), curve in CURVES.items():
        metric = METRICS.get(target, "r2")
        own = "pixels" if store == "pixels" else "none"
        for layer, score in enumerate(curve):
            rows.append(_row(store, layer, target, slot, readout, own, score, metric))
            if store == "planted" and readout == "linear":
                rows.append(_row(store, layer, target, slot, readout, "control_task", max(score - 0.3, 0.0), metric))
                rows.append(_row(store, layer, target, slot, readout, "control_task", min(0.3, score), "selectivity"))
            if metric == "balanced_accuracy":
                rows.append(_row(store, layer, target, slot, readout, own, 0.3, "base_rate", half=0.0))
    for target, value in NUISANCE.items():
        slot = -1 if target == "gravity" else 0
        rows.append(_row("labels", -1, target, slot, "linear", "nuisance", value, METRICS.get(target, "r2")))
    for (target, slot, readout, control), score in CONTROLS.items():
        rows.append(_row("labels", -1, target, slot, readout, control, score, METRICS.get(target, "r2")))
    for scenario, score in (("drop", 0.81), ("collide", 0.77)):
        rows.append(_row("planted", 2, "position_camera", 0, "object", "none", score, "r2", scenario=scenario, half=0.06))
    rows.append({**_row("", -1, "mass", 0, "", "none", float("nan"), ""), "unit": "",
                 "note": "constant target: every clip has mass 1.0 kg"})
    return pd.DataFrame(rows)


def planted_selection() -> pd.DataFrame:
    """selection.csv as the probe engine writes it: ``choice == "layer"`` rows (layer chosen per
    readout, most often over folds, with the nested score) and ``choice == "readout"`` rows."""
    layers = {
        ("planted", "position_camera", 0): {"linear": 2, "object": 2, "mlp": 2},
        ("planted", "acceleration_world", 0): {"linear": 2, "object": 2, "mlp": 3},
        ("planted", "velocity_world", 0): {"linear": 1},
        ("planted", "contact_interval", 0): {"linear": 2, "object": 2, "mlp": 2},
        ("planted", "gravity", -1): {"linear": 1},
    }
    layers.update({("pixels", t, s): {"linear": 0} for _, t, s in CHOSEN})
    rows = []
    for (store, target, slot), per_readout in layers.items():
        metric = METRICS.get(target, "r2")
        for readout, layer in per_readout.items():
            score = round(CURVES[(store, target, slot, readout)][layer] + NESTED_OFFSET, 6)
            base = {"store": store, "store_hash": f"hash-{store}", "target": target, "slot": slot, "readout": readout,
                    "layer": layer, "inner_score": score + 0.01, "metric": metric, "score": score,
                    "ci_low": score - HALF_WIDTH, "ci_high": score + HALF_WIDTH, "n": 480, "n_families": 48}
            folds = [layer] * 5 if store == "pixels" or (target, readout) != ("position_camera", "linear") else [2, 2, 3, 2, 2]
            rows.append({**base, "choice": "layer", "per_fold": json.dumps(folds)})
            chosen = CHOSEN.get((store, target, slot), ("linear",))[0]
            if readout == chosen:
                rows.append({**base, "choice": "readout", "per_fold": json.dumps([readout] * 5)})
    return pd.DataFrame(rows)


def write_planted_store(path: Path, n_clips: int = 24, n_steps: int = 4, dim: int = 16, seed: int = 0) -> Path:
    """A small latent store whose time-pooled features carry slot 0's camera position."""
    from probekit.store import write_store

    rng = np.random.default_rng(seed)
    position = rng.normal(size=(n_clips, n_steps, 2, 3)).astype(np.float32)
    layers = {}
    for layer in range(4):
        mix = rng.normal(size=(3, dim))
        time = position[:, :, 0, :] @ mix * (layer / 3) + rng.normal(size=(n_clips, n_steps, dim))
        layers[layer] = {"time": time, "mean": time.mean(axis=1)}
    scenarios = ["drop", "collide", "ramp"]
    return write_store(
        path,
        attrs={"encoder": "planted", "init": "planted", "weights": "planted", "weight_hash": "0" * 16,
               "config": {"dim": dim}, "token_grid": [n_steps, 2, 2]},
        clips={"clip_id": [f"c{i}" for i in range(n_clips)], "family_id": [f"f{i}" for i in range(n_clips)],
               "scenario": [scenarios[i % 3] for i in range(n_clips)], "kind": ["original"] * n_clips},
        layers=layers,
        labels={"position_camera": position, "exists": np.ones((n_clips, n_steps, 2), bool),
                "clip/gravity": np.full(n_clips, 9.81, np.float32)},
        token_frames=np.array([[2 * i, 2 * i + 1] for i in range(n_steps)]),
    )


def make_planted_run(run_dir: Path, *, with_store: bool = True, stages: tuple[str, ...] = ("probe",)) -> Path:
    """Write the planted run directory (and its latent store next to it)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    results = planted_results()
    results.to_csv(run_dir / "results.csv", index=False)
    results.to_parquet(run_dir / "results.parquet", index=False)
    planted_selection().to_csv(run_dir / "selection.csv", index=False)
    store_path = run_dir.parent / f"{run_dir.name}-planted.h5"
    if with_store:
        write_planted_store(store_path)
    manifest = {
        "format": "probekit.run", "schema_version": 1, "complete": True, "probekit_version": "0.1.0",
        "created_utc": "2026-11-25T12:00:00Z",
        "inputs": [
            {"path": str(store_path), "label": "planted", "store_hash": "hash-planted", "encoder": "planted",
             "init": "planted", "weights": "planted", "weight_hash": "0" * 16, "layers": [0, 1, 2, 3]},
            {"path": str(run_dir.parent / "missing-pixels.h5"), "label": "pixels", "store_hash": "hash-pixels",
             "encoder": "pixels", "init": "none", "weights": "none", "weight_hash": "", "layers": [0]},
        ],
        "suite": {"name": "planted", "targets": sorted(UNITS), "readouts": ["linear", "object", "mlp"]},
        "folds": 5, "seed": 0,
        "versions": {"python": "3.11", "numpy": np.__version__, "scikit-learn": "1.9.1", "torch": "2.14.1"},
        "stages": list(stages),
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return run_dir
