"""A small real run made through the command line (test helper): ``probekit probe`` on a
planted-signal store (:mod:`probekit.testing`), built once per test session.

The store's layers 0-3 carry: noise; slot 0's camera position linear in the pooled vector;
position through a non-linear code; every slot's acceleration in its own object tokens only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT, _cli_env

SMALL_SUITE = """[suite]
name = "summary-e2e"
targets = ["position_camera", "acceleration"]
readouts = ["linear", "object"]
controls = ["nuisance", "geometry"]
folds = 3
seed = 0
n_boot = 50
"""

_CACHE: dict[str, tuple[Path, subprocess.CompletedProcess]] = {}


def cli(*args, interval: str = "0", cwd=None) -> subprocess.CompletedProcess:
    """``python -m probekit ARGS`` off a terminal, progress lines every ``interval`` seconds."""
    env = _cli_env()
    env["PROBEKIT_PROGRESS_INTERVAL"] = interval
    return subprocess.run([sys.executable, "-m", "probekit", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd or REPO_ROOT, timeout=600)


def planted_cli_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """(run directory, the completed ``probekit probe`` process)."""
    if "run" not in _CACHE:
        from probekit.testing import write_planted_store

        tmp = tmp_path_factory.mktemp("cli-run")
        store = write_planted_store(tmp / "planted.h5", forms=("noise", "linear", "nonlinear", "object"), dim=8,
                                    n_clips=48, n_steps=4, seed=3)
        suite = tmp / "suite.toml"
        suite.write_text(SMALL_SUITE)
        result = cli("probe", store, "--out", tmp / "run", "--suite", suite)
        if result.returncode != 0:
            raise RuntimeError(f"probekit probe failed:\n{result.stderr[-3000:]}")
        _CACHE["run"] = (tmp / "run", result)
    return _CACHE["run"]
