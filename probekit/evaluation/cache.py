"""Fitted probes as ``.npz`` files (no pickles), keyed so re-runs reuse them and runs resume."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from probekit.formats.atomic import write_boundary


class ProbeCache:
    """One ``.npz`` per (store hash, layer, target, slot, readout, control, fold, config)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def config_hash(config: dict[str, Any]) -> str:
        """Short hash of everything besides the key that changes a fit (folds, seed, params)."""
        return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:10]

    def path(self, store_hash: str, layer: int, target: str, slot: int, readout: str, control: str, fold: int, config: str) -> Path:
        name = f"{store_hash[:12]}_L{layer}_{target}_s{slot}_{readout}_{control}_f{fold}_{config}.npz"
        return self.folder / name

    def load(self, path: Path) -> dict[str, Any] | None:
        """A cached fold result, or None."""
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                res: dict[str, Any] = {"test": data["test"], "pred": data["pred"], "inner": float(data["inner"])}
                if "score" in data:
                    res["score"] = data["score"]
                res["weights"] = {k[2:]: data[k] for k in data.files if k.startswith("w_")}
            return res
        except (OSError, ValueError, KeyError):
            return None

    def save(self, path: Path, res: dict[str, Any]) -> None:
        """Write atomically (temporary file, then rename)."""
        arrays = {"test": np.asarray(res["test"]), "pred": np.asarray(res["pred"]), "inner": np.asarray(res["inner"])}
        if res.get("score") is not None:
            arrays["score"] = np.asarray(res["score"])
        for key, value in res.get("weights", {}).items():
            arrays[f"w_{key}"] = np.asarray(value)
        tmp = path.with_name(f".{path.stem}.partial.npz")
        np.savez(tmp, **arrays)
        write_boundary(path)
        os.replace(tmp, path)
