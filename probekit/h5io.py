"""Shared HDF5 helpers: schema checks, atomic writes and the completeness flag.

Every probekit file carries three root attributes:

``format``
    ``"probekit.world"``, ``"probekit.store"`` (see :data:`FORMATS`).
``schema_version``
    An integer; readers refuse versions they do not understand.
``complete``
    ``True`` only once the writer has finished. Readers refuse incomplete files.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from probekit.errors import BadOptionError, FileFormatError
from probekit.formats.world import WORLD_FORMAT, WORLD_SCHEMA_VERSION

#: Known file kinds and the schema version this probekit writes and reads.
FORMATS: dict[str, tuple[str, int]] = {
    "world": (WORLD_FORMAT, WORLD_SCHEMA_VERSION),
    "store": ("probekit.store", 1),
}


def format_of(path: str | os.PathLike) -> str | None:
    """Return the kind (``"world"``, ``"store"``) of a probekit HDF5 file, or None if foreign."""
    try:
        with h5py.File(path, "r") as f:
            name = f.attrs.get("format")
    except OSError:
        return None
    if isinstance(name, bytes):
        name = name.decode()
    for kind, (fmt, _) in FORMATS.items():
        if name == fmt:
            return kind
    return None


def open_checked(
    path: str | os.PathLike,
    kind: str,
    *,
    require_complete: bool = True,
    mode: str = "r",
    resume_hint: str | None = None,
) -> h5py.File:
    """Open a probekit file of a given kind after checking format, version and completeness.

    Parameters
    ----------
    path
        File to open.
    kind
        Expected kind, a key of :data:`FORMATS`.
    require_complete
        Refuse files whose ``complete`` attribute is not true.
    mode
        h5py mode (``"r"`` or ``"r+"``).
    resume_hint
        Appended to the message for incomplete files (e.g. how to resume).

    Returns
    -------
    h5py.File
        The open file; the caller closes it.

    Raises
    ------
    FileFormatError
        Missing, unreadable, foreign, of another schema version, or incomplete.
    """
    fmt, version = FORMATS[kind]
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file; check the path")
    try:
        f = h5py.File(path, mode)
    except OSError as exc:
        raise FileFormatError(
            f"{path}: not a readable HDF5 file ({exc.__class__.__name__}); it may be truncated "
            f"or of another format; regenerate it"
        ) from None
    found = f.attrs.get("format")
    if isinstance(found, bytes):
        found = found.decode()
    if found != fmt:
        f.close()
        raise FileFormatError(
            f"{path}: not a {fmt} file (format attribute is {found!r}); pass a file written by "
            f"probekit's {'generate' if kind == 'world' else 'extract'} command"
        )
    found_version = int(f.attrs.get("schema_version", -1))
    if found_version != version:
        f.close()
        raise FileFormatError(
            f"{path}: {fmt} schema version {found_version} found, this probekit reads version "
            f"{version}; regenerate the file with this probekit"
        )
    if require_complete and not bool(f.attrs.get("complete", False)):
        f.close()
        hint = f"; {resume_hint}" if resume_hint else "; regenerate it"
        raise FileFormatError(f"{path}: the {fmt} file is incomplete (its writer did not finish){hint}")
    return f


def check_writable_output(path: str | os.PathLike, *, overwrite: bool = False, option: str = "--out") -> Path:
    """Check that ``path`` can be written; raise :class:`BadOptionError` naming ``option`` if not."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise BadOptionError(f"{option} {path}: is a directory; give a file path such as {path / 'out.h5'}")
    if path.exists() and not overwrite:
        raise BadOptionError(f"{option} {path}: file exists; pass --overwrite to replace it or choose another path")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise BadOptionError(f"{option} {path}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise BadOptionError(f"{option} {path}: folder {parent} is not writable; choose another path")
    return path


@contextlib.contextmanager
def atomic_h5(path: str | os.PathLike, kind: str, attrs: dict[str, Any] | None = None) -> Iterator[h5py.File]:
    """Write an HDF5 file atomically through :func:`probekit.formats.atomic.atomic_path`.

    The file is written under a temporary name unique to this process and call, so concurrent
    writers of one path never share it. The root attributes ``format`` and ``schema_version`` are
    set at once and ``complete`` is set to True just before the rename. On any exception the
    temporary file is removed and no file appears at ``path``.
    """
    # imported here: the format modules in probekit.formats import this module
    from probekit.formats.atomic import atomic_path

    fmt, version = FORMATS[kind]
    with atomic_path(path) as tmp:
        f = h5py.File(tmp, "w")
        try:
            f.attrs["format"] = fmt
            f.attrs["schema_version"] = version
            f.attrs["complete"] = False
            for key, value in (attrs or {}).items():
                set_attr(f, key, value)
            yield f
            f.attrs["complete"] = True
        finally:
            with contextlib.suppress(Exception):
                f.close()


def set_attr(obj: h5py.HLObject, key: str, value: Any) -> None:
    """Set an HDF5 attribute; dicts and lists of mixed type are stored as JSON strings."""
    if isinstance(value, (dict, list, tuple)) and not _is_homogeneous_numeric(value):
        obj.attrs[key] = json.dumps(value, sort_keys=True, default=str)
    elif value is None:
        obj.attrs[key] = "null"
    else:
        obj.attrs[key] = value


def get_attr(obj: h5py.HLObject, key: str, default: Any = None) -> Any:
    """Read an attribute written by :func:`set_attr`, decoding bytes and JSON."""
    if key not in obj.attrs:
        return default
    value = obj.attrs[key]
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and (value[:1] in "[{" or value == "null"):
        try:
            return json.loads(value)
        except (TypeError, ValueError):
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def _is_homogeneous_numeric(value: Any) -> bool:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        return False
    return arr.dtype.kind in "biuf" and arr.size > 0


def string_array(values: Any) -> np.ndarray:
    """Encode a sequence of str as an array HDF5 stores as variable-length UTF-8."""
    return np.array([str(v) for v in values], dtype=h5py.string_dtype())


def read_strings(dataset: h5py.Dataset) -> list[str]:
    """Read a string dataset as a list of Python str."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in dataset[()]]
