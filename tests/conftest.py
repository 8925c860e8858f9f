"""Shared fixtures: run the command line from this source tree, keep torch to few threads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


@pytest.fixture
def run_cli():
    """Run ``python -m probekit ARGS...`` from this source tree; returns CompletedProcess."""

    def run(*args: str, cwd: str | os.PathLike | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "probekit", *map(str, args)],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=_cli_env(),
            timeout=timeout,
        )

    return run


@pytest.fixture(autouse=True, scope="session")
def _offline_and_few_threads():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch

        torch.set_num_threads(min(2, os.cpu_count() or 1))
    except ImportError:
        pass
    yield
