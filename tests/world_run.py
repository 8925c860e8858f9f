"""A tiny real run over a world file (test helper), built once per test session: a generated
world (drop and collide), a planted-signal store (5 layers) and tiny-vjepa2 (7 layers) extracted
from it, and ``probekit probe`` on both, so the report has frames, slot roles and stores that
differ in depth."""

from __future__ import annotations

from pathlib import Path

SUITE = """[suite]
name = "figures-e2e"
targets = ["position_camera", "contact"]
readouts = ["linear"]
controls = ["nuisance", "control_task"]
folds = 2
seed = 0
n_boot = 20
"""

_CACHE: dict[str, Path] = {}


def world_run(tmp_path_factory) -> Path:
    """The run directory; its world file and stores lie beside it."""
    if "run" not in _CACHE:
        from probekit.evaluation import run_probe
        from probekit.extraction.run import ExtractConfig, run_extract
        from probekit.worlds import generate_world

        tmp = tmp_path_factory.mktemp("world-run")
        world = generate_world(tmp / "worlds.h5", clips=8, seed=2, frames=8, size=64, scenarios="drop,collide",
                               near_miss=False, progress=False)
        stores = []
        for name, encoder in (("planted.h5", "planted"), ("tiny.h5", "tiny-vjepa2")):
            run_extract(ExtractConfig(data=str(world), out=str(tmp / name), encoder=encoder, device="cpu", progress=False))
            stores.append(tmp / name)
        suite = tmp / "suite.toml"
        suite.write_text(SUITE)
        run_probe(stores, tmp / "run", suite=suite)
        _CACHE["run"] = tmp / "run"
    return _CACHE["run"]
