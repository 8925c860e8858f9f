"""Clips of a probekit world file (``probekit generate``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from probekit.errors import BadOptionError
from probekit.sources.base import PER_CLIP_OBJECTS, ClipBatch


class WorldSource:
    """Clips of a probekit world file, sampled as ``start + frame_step * arange(window)``.

    Parameters
    ----------
    path
        A complete world file.
    frame_step, window, start
        Frame sampling; ``window=None`` takes every ``frame_step``-th frame from ``start``.
    """

    kind = "world"
    provides = frozenset({"labels", "masks", "pairs", "families"})

    def __init__(self, path: str | os.PathLike, *, frame_step: int = 1, window: int | None = None, start: int = 0) -> None:
        from probekit.data.worlds import WorldFile

        self.path = Path(path)
        self._world = WorldFile(self.path)
        self._names = self._world.dataset_names
        rgb = self._world.dataset("video/rgb")
        self.n_clips, n_frames, height, width = (int(v) for v in rgb.shape[:4])
        if frame_step < 1 or start < 0:
            raise BadOptionError(f"--frame-step {frame_step} / start {start}: use frame_step >= 1 and start >= 0")
        available = len(range(start, n_frames, frame_step))
        window = available if window is None else int(window)
        if not 1 <= window <= available:
            raise BadOptionError(
                f"--window {window}: the world file has {n_frames} frames per clip, so at most {available} frames "
                f"can be sampled with --frame-step {frame_step}"
            )
        self.source_frames = n_frames
        self.frames = start + frame_step * np.arange(window)
        self.n_frames = window
        self.frame_size = (height, width)
        self.sampling = {"frame_step": frame_step, "window": window, "start": start, "stride": None,
                         "windows_per_clip": 1}
        self.k_max = int(self._world.dataset("objects/exists").shape[2]) if "objects/exists" in self._names else 0
        # dataset handles and their kind, looked up once: (name, dataset, per-frame?)
        self._objects = [(name, self._world.dataset(name)) for name in self._group("objects")]
        self._objects = [(name, data, data.ndim >= 3 and data.shape[1] == n_frames
                          and name.split("/", 1)[1] not in PER_CLIP_OBJECTS) for name, data in self._objects]
        self._masks = [(name, self._world.dataset(name)) for name in ("video/segmentation", "masks/amodal") if name in self._names]
        self._clip_values = [(name, self._world.dataset(name)) for name in self._group("clips")]
        self._clip_values = [(name, data) for name, data in self._clip_values if h5py.check_string_dtype(data.dtype) is None]
        self._rgb = rgb
        self._whole = window == n_frames and frame_step == 1 and start == 0

    def close(self) -> None:
        """Close the world file."""
        self._world.close()

    def _group(self, group: str) -> list[str]:
        return [name for name in self._names if name.startswith(group + "/")]

    def clip_table(self) -> dict[str, list[str]]:
        """String columns per clip carried into the store (clip_id, family_id, scenario, kind, ...)."""
        return {name.split("/", 1)[1]: [str(v) for v in self._world.read(name)] for name in self._group("clips")
                if h5py.check_string_dtype(self._world.dataset(name).dtype) is not None}

    def frame_sizes(self) -> list[tuple[int, int]]:
        """(H, W) of every clip."""
        return [self.frame_size] * self.n_clips

    def content_hash(self) -> str:
        """sha256 over the clips' content hashes (or the file's bytes when they are absent)."""
        digest = hashlib.sha256()
        if "clips/content_hash" in self._names:
            for value in self._world.read("clips/content_hash"):
                digest.update(str(value).encode())
        else:
            with open(self.path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
        return digest.hexdigest()

    def attrs(self) -> dict[str, Any]:
        """Provenance of the source."""
        attrs = self._world.attrs
        return {"source_path": str(self.path.resolve()), "source_format": "probekit.world",
                "source_hash": self.content_hash(), "source_seed": attrs.get("seed", -1), "fps": attrs.get("fps", 0)}

    def read(self, start: int, stop: int) -> ClipBatch:
        """Frames and raw labels of clips ``start .. stop - 1``."""
        frames, whole = self.frames, self._whole
        video = self._rgb[start:stop]
        labels: dict[str, np.ndarray] = {}
        for name, data, per_frame in self._objects:
            values = data[start:stop]
            labels[name] = values[:, frames] if per_frame and not whole else values
        for name, data in self._masks:
            labels[name] = data[start:stop] if whole else data[start:stop][:, frames]
        for name, data in self._clip_values:
            labels[name] = data[start:stop]
        return ClipBatch(start, stop, video if whole else video[:, frames], labels)


def is_world_file(path: Path) -> bool:
    """Whether ``path`` is a probekit world file."""
    from probekit.h5io import format_of

    return path.is_file() and format_of(path) == "world"


def open_world(path: Path, *, frame_step: int = 1, window: int | None = None, stride: int | None = None, **_: Any) -> WorldSource:
    """Open a world file (``stride`` does not apply: one window per clip)."""
    return WorldSource(path, frame_step=frame_step, window=window)
