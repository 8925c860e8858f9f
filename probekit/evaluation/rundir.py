"""The run directory of ``probekit probe`` (see docs/formats.md, "Run directory")."""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from probekit.formats.atomic import write_boundary

RESULT_COLUMNS = [
    "store", "store_hash", "encoder", "weights", "layer", "target", "slot", "readout", "control", "scenario", "metric",
    "score", "ci_low", "ci_high", "fold_scores", "n", "n_families", "unit", "note",
]
SELECTION_COLUMNS = [
    "store", "store_hash", "target", "slot", "choice", "readout", "layer", "per_fold", "inner_score", "metric", "score",
    "ci_low", "ci_high", "n", "n_families",
]
COMPARISON_COLUMNS = ["target", "slot", "readout", "metric", "a", "b", "delta", "ci_low", "ci_high", "n", "higher_is_better"]


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    write(tmp)
    write_boundary(path)
    os.replace(tmp, path)


def versions() -> dict[str, str]:
    """Versions of the libraries that shape the numbers."""
    import sklearn

    out = {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__}
    try:
        import torch

        out["torch"] = torch.__version__
    except ImportError:  # pragma: no cover
        out["torch"] = ""
    return out


def write_manifest(out: Path, manifest: dict[str, Any], complete: bool) -> None:
    """Write ``manifest.json`` atomically, ``complete`` only once everything else is written."""
    data = {**manifest, "complete": bool(complete)}
    _atomic_write(out / "manifest.json", lambda p: p.write_text(json.dumps(data, indent=2, sort_keys=True, default=str)))


def base_manifest(inputs, suite, folds: int, seed: int, out: Path | None = None) -> dict[str, Any]:
    """Manifest fields known before fitting (store paths relative to the run directory ``out``)."""
    from probekit import __version__

    return {
        "format": "probekit.run",
        "schema_version": 1,
        "probekit_version": __version__,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "inputs": [
            {
                "path": os.path.relpath(os.path.abspath(item.path), os.path.abspath(out)) if out is not None else str(item.path), "label": item.label, "store_hash": item.hash, "encoder": item.attrs.get("encoder", ""),
                "init": item.attrs.get("init", ""), "weights": item.attrs.get("weights", ""), "weight_hash": item.attrs.get("weight_hash", ""),
                "layers": item.store.layers, "control": item.control,
            }
            for item in inputs
        ],
        "suite": suite.raw,
        "suite_effective": {"name": suite.name, "targets": suite.targets, "readouts": suite.readouts, "controls": suite.controls, "n_boot": suite.n_boot},
        "folds": folds,
        "seed": seed,
        "versions": versions(),
        "stages": ["probe"],
    }


def write_tables(out: Path, rows: list[dict], selection: list[dict], comparisons: list[dict], gains: list[dict] | None = None) -> pd.DataFrame:
    """Write results (Parquet + CSV), selection.csv, comparisons.csv and gains.csv atomically."""
    results = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    results = results.astype({"layer": int, "slot": int, "n": int, "n_families": int, "score": float, "ci_low": float, "ci_high": float})
    order = ["store", "target", "slot", "readout", "control", "layer", "scenario", "metric"]
    results = results.sort_values(order, kind="stable").reset_index(drop=True)
    selection = sorted(selection, key=lambda r: (r["store"], r["target"], r["slot"], r["choice"], r["readout"]))
    comparisons = sorted(comparisons, key=lambda r: (r["target"], r["slot"], r["readout"], r["a"], r["b"]))
    _atomic_write(out / "results.parquet", lambda p: results.to_parquet(p, index=False))
    _atomic_write(out / "results.csv", lambda p: results.to_csv(p, index=False))
    _atomic_write(out / "selection.csv", lambda p: pd.DataFrame(selection, columns=SELECTION_COLUMNS).to_csv(p, index=False))
    _atomic_write(out / "comparisons.csv", lambda p: pd.DataFrame(comparisons, columns=COMPARISON_COLUMNS).to_csv(p, index=False))
    if gains is not None:
        from probekit.evaluation.gains import GAIN_COLUMNS

        table = pd.DataFrame(gains, columns=GAIN_COLUMNS).sort_values(["target", "slot", "readout", "baseline", "store", "versus"], kind="stable")
        _atomic_write(out / "gains.csv", lambda p: table.to_csv(p, index=False))
    return results
