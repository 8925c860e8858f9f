"""Write families of clips into an open world file (datasets created on the first clip)."""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

from probekit.worlds.datasets import ACCELERATION_METHOD, ARRAYS, META


class WorldWriter:
    """Appends clips, in order, to the datasets of a world file opened by ``atomic_h5``.

    Parameters
    ----------
    file
        An HDF5 file open for writing.
    n_clips
        Total number of clips the file will hold.
    """

    def __init__(self, file: h5py.File, n_clips: int, buffer_bytes: int = 64 * 2**20) -> None:
        self.file = file
        self.n_clips = n_clips
        self.written = 0
        self.buffer_bytes = buffer_bytes
        self._buffer: list[dict[str, np.ndarray]] = []
        self._buffered_bytes = 0
        self._meta: dict[str, list[Any]] = {name: [] for name in META}

    def _create(self, arrays: dict[str, np.ndarray]) -> None:
        for name, value in arrays.items():
            dtype, unit, description = ARRAYS[name]
            chunks = (1, *value.shape) if value.ndim else None
            # images and masks compress well and fast with LZF (h5py's built-in filter)
            compression = "lzf" if name.startswith(("video/", "masks/")) else None
            data = self.file.create_dataset(
                name, shape=(self.n_clips, *value.shape), dtype=dtype, chunks=chunks, compression=compression
            )
            data.attrs["unit"] = unit
            data.attrs["description"] = description
            if name == "objects/acceleration_world":
                data.attrs["method"] = ACCELERATION_METHOD

    def add(self, clip: dict[str, Any]) -> None:
        """Write one clip (``{"arrays": ..., "meta": ...}`` from :func:`run_family`)."""
        arrays = clip["arrays"]
        if self.written == 0 and not self._buffer:
            self._create(arrays)
        self._buffer.append(arrays)
        self._buffered_bytes += sum(value.nbytes for value in arrays.values())
        for name in META:
            self._meta[name].append(clip["meta"][name])
        if self._buffered_bytes >= self.buffer_bytes:
            self._flush()

    def _flush(self) -> None:
        """Write the buffered clips as one slice per dataset (whole chunks)."""
        if not self._buffer:
            return
        start, stop = self.written, self.written + len(self._buffer)
        for name in self._buffer[0]:
            self.file[name][start:stop] = np.stack([arrays[name] for arrays in self._buffer])
        self.written = stop
        self._buffer, self._buffered_bytes = [], 0

    def finish(self) -> None:
        """Write buffered clips and the per-clip metadata columns (call once every clip was added)."""
        self._flush()
        if self.written != self.n_clips:
            raise RuntimeError(f"wrote {self.written} clips, expected {self.n_clips}")
        for name, (unit, description) in META.items():
            values = self._meta[name]
            if name == "violation_frame":
                data = np.asarray(values, dtype=np.int32)
            elif name == "seed":
                data = np.asarray(values, dtype=np.uint64)
            else:
                data = np.array([str(v) for v in values], dtype=h5py.string_dtype())
            dataset = self.file.create_dataset(f"clips/{name}", data=data)
            dataset.attrs["unit"] = unit
            dataset.attrs["description"] = description
