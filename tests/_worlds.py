"""Small world files from ``probekit generate``, generated once per test session."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path


@functools.lru_cache(maxsize=None)
def _folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="probekit-extract-tests-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@functools.lru_cache(maxsize=None)
def generated_world(clips: int = 4, seed: int = 0, frames: int = 16, size: int = 64) -> Path:
    """A real world file (pybullet physics, every scenario) of ``clips`` clips; do not modify it."""
    from probekit.worlds import generate_world

    path = _folder() / f"world-{clips}-{seed}-{frames}-{size}.h5"
    if path.exists():  # asked for before with the arguments spelled another way (lru_cache keys differ)
        return path
    return generate_world(path, clips=clips, seed=seed, frames=frames, size=size, workers=1, progress=False)
