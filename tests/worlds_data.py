"""World files shared by the tests of probekit.worlds, generated once per test session."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

#: Options of the shared file: every scenario, violation and counterfactual, small images.
SHARED_OPTIONS = dict(
    clips=12,
    seed=8,
    scenarios="drop,ramp,roll,collide,occlude,stack",
    frames=16,
    size=48,
    fps=15.0,
    violations="permanence,solidity,gravity,immutability,continuity",
    counterfactuals=True,
)


@functools.lru_cache(maxsize=None)
def session_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="probekit-worlds-tests-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@functools.lru_cache(maxsize=None)
def shared_world() -> Path:
    """The shared world file, generated in this process with one worker."""
    from probekit.worlds import generate_world

    return generate_world(session_folder() / "shared.h5", workers=1, progress=False, **SHARED_OPTIONS)


def load_all(path: Path) -> dict:
    """Every dataset of a world file as numpy arrays."""
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out
