"""The latent store: layer-wise latents and aligned labels in one HDF5 file.

This module is the store format's one home: its schema constants, the reader (:class:`Store`)
and the writers side by side. :func:`write_store` writes a whole store at once (small stores,
tests, planted signals); ``probekit extract`` streams through
:class:`probekit.extraction.writer.UnitWriter`, which builds on :func:`write_incomplete_store`,
:func:`create_store` and :func:`store_state` here. See ``docs/formats.md`` for the layout.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import h5py
import numpy as np
import pandas as pd

from probekit.formats.damage import guard_reader
from probekit.errors import BadOptionError
from probekit.formats.atomic import atomic_path
from probekit.h5io import FORMATS, atomic_h5, get_attr, open_checked, read_strings, set_attr, string_array

#: Root attribute ``format`` and the ``schema_version`` this probekit writes and reads
#: (registered with the other HDF5 kinds in :data:`probekit.h5io.FORMATS`).
FORMAT_NAME, SCHEMA_VERSION = FORMATS["store"]

#: Feature kinds a layer group may hold.
FEATURE_KINDS = ("mean", "time", "object", "grid", "tokens", "special")
#: Per-clip string columns the reader returns from :meth:`Store.clips`.
CLIP_COLUMNS = ("clip_id", "family_id", "scenario", "kind")
#: (T', 2) first and last frame of each token time step.
TOKEN_FRAMES = "layout/token_frames"
#: (N, T) source frame index of each input frame.
FRAME_ORDER = "layout/frame_order"
#: (T',) mid-time frame index of each token step.
FRAME_MID = "labels/frame_mid"
#: Datasets without a clip axis (the same for every clip, hence for every shard).
STATIC_DATASETS = (TOKEN_FRAMES, FRAME_MID)
#: Root attributes every probekit HDF5 file carries; a store's provenance is every other attribute.
IDENTITY_ATTRS = ("format", "schema_version", "complete")

_RESUME_HINT = "finish it with `probekit extract ... --resume`"


def feature_dataset(layer: int, kind: str) -> str:
    """Path of one layer's features of one kind, ``layers/<layer>/<kind>``."""
    return f"layers/{int(layer)}/{kind}"


def label_dataset(name: str) -> str:
    """Path of an aligned label, ``labels/<name>`` (``name`` may hold ``/``, e.g. ``clip/gravity``)."""
    return f"labels/{name}"


def clip_dataset(name: str) -> str:
    """Path of a per-clip string column, ``clips/<name>``."""
    return f"clips/{name}"


class Store:
    """Lazy, read-only access to a latent store.

    Parameters
    ----------
    path
        Path of a complete store written by ``probekit extract`` (or :func:`write_store`).

    Examples
    --------
    >>> with Store("latents.h5") as store:                      # doctest: +SKIP
    ...     X = store.features(store.layers[-1], "time")      # (N, T', D)
    ...     y = store.labels("velocity_world")                # (N, T', K, 3)
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._file = open_checked(self.path, "store", resume_hint=_RESUME_HINT)

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> "Store":
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
    def layers(self) -> list[int]:
        """Stored layer indices, ascending (0 = embeddings output)."""
        return sorted(int(name) for name in self._file["layers"])

    @property
    def n_clips(self) -> int:
        """Number of clips (windows) in the store."""
        return int(self._file[clip_dataset("clip_id")].shape[0])

    def clips(self) -> pd.DataFrame:
        """One row per clip: clip_id, family_id, scenario, kind (where stored)."""
        group = self._file["clips"]
        return pd.DataFrame({name: read_strings(group[name]) for name in CLIP_COLUMNS if name in group})

    def feature_kinds(self, layer: int) -> list[str]:
        """Feature kinds stored for ``layer``."""
        return sorted(self._layer_group(layer))

    @property
    def label_names(self) -> list[str]:
        """Names of aligned label datasets (per-clip ones prefixed ``clip/``)."""
        names: list[str] = []
        self._file["labels"].visititems(
            lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None
        )
        return sorted(names)

    # -- data ------------------------------------------------------------------------------
    def features(self, layer: int, kind: str = "time", clips: slice | np.ndarray | None = None) -> np.ndarray:
        """Load one layer's features of one kind into memory.

        Parameters
        ----------
        layer
            A stored layer index (see :attr:`layers`); negative values count from the end.
        kind
            One of :data:`FEATURE_KINDS` that this layer holds.
        clips
            Optional selection of clips (slice or sorted index array).
        """
        group = self._layer_group(layer)
        if kind not in group:
            raise BadOptionError(
                f"{self.path}: layer {layer} has no {kind!r} features; stored kinds: {sorted(group)}"
            )
        data = group[kind]
        return data[()] if clips is None else data[clips]

    def labels(self, name: str, clips: slice | np.ndarray | None = None) -> np.ndarray:
        """Load one aligned label array (see :attr:`label_names`)."""
        if name not in self._file["labels"]:
            raise BadOptionError(
                f"{self.path}: no label {name!r} in this store; labels present: {', '.join(self.label_names)}"
            )
        data = self._file["labels"][name]
        return data[()] if clips is None else data[clips]

    def dataset(self, name: str) -> h5py.Dataset:
        """Direct (lazy) access to any dataset by its path in the file."""
        return self._file[name]

    def has(self, name: str) -> bool:
        """Whether the file holds a dataset at path ``name`` (optional groups such as ``surprise/``)."""
        return isinstance(self._file.get(name), h5py.Dataset)

    def _layer_group(self, layer: int) -> h5py.Group:
        layers = self.layers
        if layer < 0:
            if -layer > len(layers):
                raise BadOptionError(f"{self.path}: layer {layer} out of range; stored layers: {layers}")
            layer = layers[layer]
        if layer not in layers:
            raise BadOptionError(f"{self.path}: layer {layer} is not stored; stored layers: {layers}")
        return self._file["layers"][str(layer)]

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, encoder={self.attrs.get('encoder')!r}, layers={self.layers})"



guard_reader(Store)  # damaged content reads as one FileFormatError line

def store_state(path: str | os.PathLike) -> str:
    """``missing``, ``complete``, ``incomplete`` (a probekit store) or ``foreign``."""
    path = Path(path)
    if not path.exists():
        return "missing"
    try:
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format")
            fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
            if fmt != FORMAT_NAME:
                return "foreign"
            return "complete" if bool(f.attrs.get("complete", False)) else "incomplete"
    except OSError:
        return "foreign"


def _set_identity(f: h5py.File, attrs: Mapping[str, Any]) -> None:
    f.attrs["format"], f.attrs["schema_version"], f.attrs["complete"] = FORMAT_NAME, SCHEMA_VERSION, False
    for key, value in attrs.items():
        set_attr(f, key, value)


def write_incomplete_store(path: str | os.PathLike, attrs: Mapping[str, Any]) -> Path:
    """Atomically put a small store with ``complete = False`` at ``path``.

    Readers refuse it with a message naming ``--resume``; ``probekit extract`` leaves it at the
    output path while it runs.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            _set_identity(f, attrs)
    return path


def create_store(path: str | os.PathLike, attrs: Mapping[str, Any]) -> h5py.File:
    """Create a new store file to fill, marked incomplete; :func:`mark_complete` finishes it.

    Parameters
    ----------
    path
        The file to create (a private path: it is truncated). Callers move it into place.
    attrs
        Root provenance attributes.

    Returns
    -------
    h5py.File
        The open file; the caller closes it.
    """
    f = h5py.File(path, "w")
    _set_identity(f, attrs)
    return f


def mark_complete(f: h5py.File) -> None:
    """Set the ``complete`` flag: the last write before a store is closed and moved into place."""
    f.attrs["complete"] = True


def provenance(f: h5py.File) -> dict[str, Any]:
    """A store's root attributes other than its identity (:data:`IDENTITY_ATTRS`), JSON decoded."""
    return {key: get_attr(f, key) for key in f.attrs if key not in IDENTITY_ATTRS}


def write_store(
    path: str | os.PathLike,
    *,
    attrs: Mapping[str, Any],
    clips: Mapping[str, Any],
    layers: Mapping[int, Mapping[str, np.ndarray]],
    labels: Mapping[str, np.ndarray],
    token_frames: np.ndarray,
    dtype: str = "float16",
) -> Path:
    """Write a complete store in one go (atomically).

    Parameters
    ----------
    path
        Output file; replaced atomically.
    attrs
        Root provenance attributes (see ``docs/formats.md``).
    clips
        Per-clip string columns, at least ``clip_id`` and ``family_id``.
    layers
        ``{layer_index: {kind: array}}``, kinds from :data:`FEATURE_KINDS`.
    labels
        ``{name: array}``; names may contain ``/`` (e.g. ``clip/gravity``).
    token_frames
        (T', 2) first and last frame of each token time step.
    dtype
        Storage dtype of features.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    for required in ("clip_id", "family_id"):
        if required not in clips:
            raise BadOptionError(f"write_store: clips needs a {required!r} column")
    n = len(clips["clip_id"])
    with atomic_h5(path, "store", {"dtype": dtype, **attrs}) as f:
        for name, values in clips.items():
            f.create_dataset(clip_dataset(name), data=string_array(values))
        f.create_dataset(TOKEN_FRAMES, data=np.asarray(token_frames, dtype=np.int32))
        for layer, kinds in layers.items():
            for kind, array in kinds.items():
                if kind not in FEATURE_KINDS:
                    raise BadOptionError(f"write_store: unknown feature kind {kind!r}; use one of {FEATURE_KINDS}")
                array = np.asarray(array)
                if array.shape[0] != n:
                    raise BadOptionError(f"write_store: layer {layer} {kind} has {array.shape[0]} clips, expected {n}")
                chunks = (1,) + array.shape[1:] if array.ndim > 1 else None
                f.create_dataset(feature_dataset(layer, kind), data=array.astype(dtype), chunks=chunks)
        for name, array in labels.items():
            f.create_dataset(label_dataset(name), data=np.asarray(array))
        f.attrs["layer_indices"] = np.array(sorted(int(i) for i in layers), dtype=np.int64)
    return Path(path)
