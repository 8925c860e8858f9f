"""The world file (``probekit generate``): schema, writer and reader side by side.

One home for the file kind ``probekit.world`` (see ``docs/formats.md``): its format name and
schema version, the storage dtype, unit and description of every dataset (:data:`ARRAYS`,
:data:`META`), the writer (:func:`world_writer`, :class:`WorldWriter`; atomic through
:func:`probekit.formats.atomic.atomic_path`) and the lazy reader :class:`WorldFile` (also
importable as ``probekit.data.WorldFile``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np
import pandas as pd

from probekit.errors import BadOptionError
from probekit.formats.atomic import atomic_path
from probekit.formats.damage import guard_reader

#: Value of the root attribute ``format``.
WORLD_FORMAT = "probekit.world"
#: Schema version written and read. 2: ``contact_object_*`` is object-object only, scenery
#: contact is ``contact_scenery_*``; ``held``; ``near_miss`` clips.
WORLD_SCHEMA_VERSION = 2
#: Surfaces closer than this (metres, penetration counts as negative distance) are in contact.
CONTACT_EPSILON = 1e-3

_EPS = f"surfaces within {CONTACT_EPSILON} m (penetration counts), speculative points excluded"

#: name -> (dtype, unit, description) of every per-clip array produced by a simulation.
ARRAYS: dict[str, tuple[str, str, str]] = {
    "video/rgb": ("uint8", "1", "rendered frames (ER_TINY_RENDERER, shadows on), one clip per chunk"),
    "video/depth": ("float32", "m", "z-depth in the camera frame; the far plane where nothing is drawn"),
    "video/segmentation": ("int8", "1", "slot index of the visible object; -1 background and ground, -2 scenery"),
    "masks/amodal": ("bool", "1", "each object's full silhouette, rendered alone"),
    "objects/exists": ("bool", "1", "slot holds an object at this frame"),
    "objects/visible": ("bool", "1", "at least one visible pixel"),
    "objects/visible_fraction": ("float32", "1", "visible pixels / amodal pixels; NaN when the amodal mask is empty"),
    "objects/out_of_frame": ("bool", "1", "projected centre outside the image, or amodal mask empty, while existing"),
    "objects/position_world": ("float32", "m", "centre of mass, world frame (z up)"),
    "objects/position_camera": ("float32", "m", "centre of mass, camera frame (OpenCV: x right, y down, z forward)"),
    "objects/position_image": ("float32", "px", "projected centre of mass (x, y), origin at the image's top-left corner"),
    "objects/bbox_visible": ("float32", "px", "(x0, y0, x1, y1) pixel-edge box of the visible mask; NaN if not visible"),
    "objects/bbox_amodal": ("float32", "px", "(x0, y0, x1, y1) pixel-edge box of the amodal mask; NaN if empty"),
    "objects/velocity_world": ("float32", "m/s", "linear velocity of the centre of mass, world frame"),
    "objects/acceleration_world": (
        "float32", "m/s^2", "linear acceleration, world frame, state-based (see attribute method)"),
    "objects/impulse": ("bool", "1", "the solver applied a contact normal impulse within the frame interval"),
    "objects/held": ("bool", "1", "held at rest by a force equal to its weight during the interval (not yet released)"),
    "objects/angular_velocity_world": ("float32", "rad/s", "angular velocity, world frame"),
    "objects/quaternion_world": ("float32", "1", "orientation (x, y, z, w), world frame, w >= 0"),
    "objects/quaternion_camera": ("float32", "1", "orientation (x, y, z, w), camera frame, w >= 0"),
    "objects/rot6d_world": ("float32", "1", "first two rotation-matrix columns (r00, r10, r20, r01, r11, r21), world"),
    "objects/rot6d_camera": ("float32", "1", "first two rotation-matrix columns, camera frame"),
    "objects/contact_now": ("bool", "1", f"touching anything at the frame instant: {_EPS}"),
    "objects/contact_interval": ("bool", "1", f"touching anything at any substep of the interval ending here: {_EPS}"),
    "objects/contact_ground_now": ("bool", "1", "touching the ground at the frame instant"),
    "objects/contact_ground_interval": ("bool", "1", "touching the ground within the interval"),
    "objects/contact_object_now": ("bool", "1", "touching another object (slot) at the frame instant"),
    "objects/contact_object_interval": ("bool", "1", "touching another object (slot) within the interval"),
    "objects/contact_scenery_now": ("bool", "1", "touching static scenery (ramp, occluder) at the frame instant"),
    "objects/contact_scenery_interval": ("bool", "1", "touching static scenery within the interval"),
    "objects/contact_pairs_interval": ("bool", "1", "[k, j]: slot k touches slot j within the interval"),
    "objects/normal_force": ("float32", "N", "total contact normal force of the last substep before the frame"),
    "objects/shape": ("int8", "1", "0 sphere, 1 box, 2 cylinder, -1 empty slot (shape at the start)"),
    "objects/symmetry": ("int8", "1", "0 full (sphere), 1 axial (cylinder), 2 discrete (box), -1 empty"),
    "objects/half_extents": ("float32", "m", "(r, r, r) sphere, (r, r, h/2) cylinder along body z, box half sizes"),
    "objects/mass": ("float32", "kg", "mass"),
    "objects/friction": ("float32", "1", "lateral friction (ground and scenery use 1.0; Bullet multiplies)"),
    "objects/restitution": ("float32", "1", "restitution (ground and scenery use 1.0; Bullet multiplies)"),
    "objects/color": ("float32", "1", "base RGB in [0, 1] (at the start)"),
    "clips/gravity": ("float32", "m/s^2", "magnitude of g at the start of the simulation"),
    "clips/intrinsics": ("float32", "px", "pinhole K"),
    "clips/extrinsics": ("float32", "m", "world -> camera (OpenCV) transform"),
}

#: name -> (unit, description) of the per-clip metadata columns (strings unless stated).
META: dict[str, tuple[str, str]] = {
    "clip_id": ("", "globally unique id: <family_id>-o | -n (near miss) | -v.<violation> | -c.<factor>"),
    "family_id": ("", "<scenario>-<seed hex>-<options tag>[r<attempt>], shared by a clip and its twins"),
    "scenario": ("", "drop, ramp, roll, collide, occlude, stack"),
    "kind": ("", "original, near_miss, violation or counterfactual"),
    "violation": ("", "violation type or empty"),
    "violation_frame": ("frame", "first frame that differs from the original, -1 if none"),
    "counterfactual_factor": ("", "changed factor or empty"),
    "seed": ("", "per-clip seed (numpy SeedSequence child of the run seed)"),
    "detail": ("", "JSON: what the violation or counterfactual changed ({} for originals)"),
    "content_hash": ("", "sha256 of the clip's pixels and labels"),
}

#: Attribute ``method`` of ``objects/acceleration_world``.
ACCELERATION_METHOD = (
    "state-based backward difference over the last physics substep before the frame: "
    "(v(t) - v(t - dt)) / dt with dt = 1 / (fps * substeps), from the simulator's velocities"
)


def to_storage(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Cast a clip's arrays to their storage dtypes."""
    return {name: np.asarray(value).astype(ARRAYS[name][0]) for name, value in arrays.items()}


# -- writer ------------------------------------------------------------------------------------
@contextlib.contextmanager
def world_writer(path: str | os.PathLike, attrs: dict[str, Any]) -> Iterator["WorldWriter"]:
    """Write a world file atomically: yield a :class:`WorldWriter`; the file appears complete or not at all.

    Root attributes ``format``, ``schema_version``, ``n_clips`` and ``complete`` (True just
    before the rename) are set here; ``attrs`` adds the provenance attributes.
    """
    from probekit.h5io import set_attr

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = WORLD_FORMAT
            f.attrs["schema_version"] = WORLD_SCHEMA_VERSION
            f.attrs["complete"] = False
            for key, value in attrs.items():
                set_attr(f, key, value)
            writer = WorldWriter(f)
            yield writer
            writer.finish()
            f.attrs["n_clips"] = writer.written
            f.attrs["complete"] = True


class WorldWriter:
    """Appends clips, in order, to the datasets of a world file open for writing.

    Datasets grow along the clip axis (chunked one clip per chunk), so a family may add a
    twin that was not planned (a near miss). Use it through :func:`world_writer`.

    Parameters
    ----------
    file
        An HDF5 file open for writing.
    buffer_bytes
        Clips are written in slices of about this many bytes.
    """

    def __init__(self, file: h5py.File, buffer_bytes: int = 64 * 2**20) -> None:
        self.file = file
        self.written = 0
        self.buffer_bytes = buffer_bytes
        self._buffer: list[dict[str, np.ndarray]] = []
        self._buffered_bytes = 0
        self._meta: dict[str, list[Any]] = {name: [] for name in META}

    def _create(self, arrays: dict[str, np.ndarray]) -> None:
        for name, value in arrays.items():
            dtype, unit, description = ARRAYS[name]
            chunks = (1, *value.shape) if value.ndim else (256,)
            # images and masks compress well and fast with LZF (h5py's built-in filter)
            compression = "lzf" if name.startswith(("video/", "masks/")) else None
            data = self.file.create_dataset(
                name, shape=(0, *value.shape), maxshape=(None, *value.shape), dtype=dtype, chunks=chunks,
                compression=compression,
            )
            data.attrs["unit"] = unit
            data.attrs["description"] = description
            if name == "objects/acceleration_world":
                data.attrs["method"] = ACCELERATION_METHOD

    def add(self, clip: dict[str, Any]) -> None:
        """Write one clip (``{"arrays": ..., "meta": ...}`` from :func:`probekit.worlds.family.run_family`)."""
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
            data = self.file[name]
            data.resize(stop, axis=0)
            data[start:stop] = np.stack([arrays[name] for arrays in self._buffer])
        self.written = stop
        self._buffer, self._buffered_bytes = [], 0

    def finish(self) -> None:
        """Write buffered clips and the per-clip metadata columns (call once, after the last clip)."""
        self._flush()
        if self.written == 0:
            raise RuntimeError("no clip was added to the world file")
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


# -- reader ------------------------------------------------------------------------------------
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
        from probekit.h5io import open_checked

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
        from probekit.h5io import get_attr

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
        from probekit.h5io import get_attr

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
            columns[name] = _strings(data) if h5py.check_string_dtype(data.dtype) else data[()]
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


def _strings(dataset: h5py.Dataset) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in dataset[()]]
