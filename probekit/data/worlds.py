"""Lazy reader of world files written by ``probekit generate`` (see ``docs/formats.md``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from probekit.errors import BadOptionError
from probekit.formats.damage import guard_reader
from probekit.h5io import get_attr, open_checked, read_strings

#: Per-clip columns returned by :meth:`WorldFile.clips` (string columns are decoded).
CLIP_COLUMNS = (
    "clip_id",
    "family_id",
    "scenario",
    "kind",
    "violation",
    "violation_frame",
    "counterfactual_factor",
    "seed",
    "gravity",
    "detail",
    "content_hash",
)


class WorldFile:
    """Lazy, read-only access to a world file.

    Parameters
    ----------
    path
        A complete world file written by ``probekit generate``.

    Raises
    ------
    probekit.errors.FileFormatError
        Missing, foreign, of another schema version, or incomplete file.

    Examples
    --------
    >>> with WorldFile("worlds.h5") as world:                          # doctest: +SKIP
    ...     table = world.clips()                                     # one row per clip
    ...     rgb = world.video(0)                                      # (T, H, W, 3) uint8
    ...     vel = world.read("objects/velocity_world", clips=[0, 2])  # (2, T, K, 3)
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._file = open_checked(self.path, "world")

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> "WorldFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying HDF5 file."""
        if self._file.id.valid:
            self._file.close()

    # -- metadata --------------------------------------------------------------------------
    @property
    def attrs(self) -> dict[str, Any]:
        """Root attributes (provenance), JSON decoded."""
        return {key: get_attr(self._file, key) for key in self._file.attrs}

    @property
    def n_clips(self) -> int:
        """Number of clips N."""
        return int(self._file["clips/clip_id"].shape[0])

    @property
    def n_frames(self) -> int:
        """Frames per clip T."""
        return int(self._file["video/rgb"].shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        """Image (height, width) in pixels."""
        shape = self._file["video/rgb"].shape
        return int(shape[2]), int(shape[3])

    @property
    def fps(self) -> float:
        """Frames per second; frame ``t`` is at time ``t / fps``."""
        return float(get_attr(self._file, "fps"))

    @property
    def k_max(self) -> int:
        """Number of object slots K."""
        return int(self._file["objects/exists"].shape[2])

    @property
    def dataset_names(self) -> list[str]:
        """Paths of every dataset in the file (e.g. ``objects/velocity_world``)."""
        names: list[str] = []
        self._file.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        return sorted(names)

    def clips(self) -> pd.DataFrame:
        """One row per clip with the columns of :data:`CLIP_COLUMNS` present in the file."""
        group = self._file["clips"]
        columns: dict[str, Any] = {}
        for name in CLIP_COLUMNS:
            if name not in group:
                continue
            data = group[name]
            columns[name] = read_strings(data) if h5py.check_string_dtype(data.dtype) else data[()]
        return pd.DataFrame(columns)

    # -- data ------------------------------------------------------------------------------
    def dataset(self, name: str) -> h5py.Dataset:
        """Direct (lazy) access to a dataset by its path, e.g. ``"video/rgb"``."""
        if name not in self._file or not isinstance(self._file[name], h5py.Dataset):
            raise BadOptionError(
                f"{self.path}: no dataset {name!r}; datasets present: {', '.join(self.dataset_names)}"
            )
        return self._file[name]

    def read(self, name: str, clips: slice | np.ndarray | list[int] | int | None = None) -> np.ndarray:
        """Load a dataset (all clips, or a selection along the clip axis).

        Parameters
        ----------
        name
            Dataset path, e.g. ``"objects/position_world"`` or ``"clips/scenario"``.
        clips
            None (all), an int, a slice, or an index array/list (any order, repeats allowed).

        Returns
        -------
        numpy.ndarray
            String datasets come back as arrays of Python ``str`` (dtype object).
        """
        data = self.dataset(name)
        if clips is None:
            values = data[()]
        elif isinstance(clips, (int, np.integer, slice)):
            values = data[clips]
        else:
            index = np.asarray(clips, dtype=np.int64).ravel()
            if index.size and (index.min() < -self.n_clips or index.max() >= self.n_clips):
                raise BadOptionError(f"{self.path}: clip index out of range 0..{self.n_clips - 1}")
            index = np.where(index < 0, index + self.n_clips, index)
            unique, inverse = np.unique(index, return_inverse=True)
            values = data[unique][inverse] if unique.size else data[:0]
        if h5py.check_string_dtype(data.dtype):
            values = np.asarray(values, dtype=object)
            flat = [v.decode() if isinstance(v, bytes) else str(v) for v in values.ravel()]
            values = np.array(flat, dtype=object).reshape(values.shape)
        return values

    def video(self, i: int, kind: str = "rgb") -> np.ndarray:
        """Frames of clip ``i``: ``"rgb"`` (T, H, W, 3) uint8, ``"depth"`` or ``"segmentation"`` (T, H, W)."""
        if not -self.n_clips <= int(i) < self.n_clips:
            raise BadOptionError(f"{self.path}: clip {i} out of range 0..{self.n_clips - 1}")
        return self.dataset(f"video/{kind}")[int(i)]

    def __len__(self) -> int:
        return self.n_clips

    def __repr__(self) -> str:
        return (
            f"WorldFile({str(self.path)!r}, n_clips={self.n_clips}, n_frames={self.n_frames}, "
            f"image_size={self.image_size}, k_max={self.k_max})"
        )


guard_reader(WorldFile)  # damaged content reads as one FileFormatError line
