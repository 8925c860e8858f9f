"""A real run directory for the report's end-to-end tests (test helper): ``probekit probe`` on a
planted-signal store from :mod:`probekit.testing`, built once per test session."""

from __future__ import annotations

from pathlib import Path

from probekit.evaluation import run_probe
from probekit.testing import write_planted_store

SUITE = """[suite]
name = "report-e2e"
targets = ["position_camera", "acceleration", "contact", "velocity"]
readouts = ["linear", "object"]
controls = ["nuisance", "geometry", "control_task", "ceiling"]
folds = 3
seed = 0
n_boot = 100
[suite.ceiling]
readouts = ["linear"]
"""

#: Layers 0-4 of the planted store carry: noise; slot 0's position linear in the pooled vector;
#: position through a non-linear code; every slot's acceleration in its own object tokens only;
#: every slot's contact in the pooled vector only. Velocity is planted nowhere.
#: (target, slot) -> (pattern, readout that carries it, planted layer)
ANSWER = {
    ("position_camera", 0): ("entangled", "linear", 1),
    ("acceleration", 0): ("encoded", "object", 3),
    ("contact", 0): ("entangled", "linear", 4),
}
NOT_FOUND = (("velocity", 0),)

_CACHE: dict[str, Path] = {}


def planted_real_run(tmp_path_factory) -> Path:
    """The run directory (its store stays next to it, so the report can draw the UMAP)."""
    if "run" not in _CACHE:
        tmp = tmp_path_factory.mktemp("real-run")
        store = write_planted_store(tmp / "planted.h5", forms=("noise", "linear", "nonlinear", "object", "contact"),
                                    dim=16, n_clips=90, n_steps=6, seed=3)
        suite = tmp / "suite.toml"
        suite.write_text(SUITE)
        run_probe([store], tmp / "run", suite=suite)
        _CACHE["run"] = tmp / "run"
    return _CACHE["run"]
