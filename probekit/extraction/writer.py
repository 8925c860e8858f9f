"""Crash-safe, resumable writing of a latent store.

Work is committed in units (one batch of clips each). Each unit is a small HDF5 file in a hidden
folder next to the output (``.<out>.parts/unit-000012.h5``), written under a temporary name,
flushed to disk and renamed: a unit either exists whole or not at all, so a ``kill -9`` at any
moment leaves every committed unit readable. While the run is going, the output path holds a
small *incomplete* store (``complete = False``) that readers refuse with a message naming
``--resume``. Units hold the features and frame order; the aligned labels are cheap to recompute from the
source and are not kept in them. Each committed unit is also copied into the store being assembled (``assembly.h5`` in the parts
folder, rebuilt from the units on resume); at the end it is marked complete and renamed to the
output path, and the parts folder is removed. The store's contents depend only on the units', so a
resumed run gives the same bytes in every dataset as an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping

import h5py
import numpy as np

from probekit.errors import BadOptionError, FileFormatError
from probekit.h5io import FORMATS, set_attr, string_array, temporary_path_for
from probekit.formats.atomic import write_boundary

SIGNATURE_FILE = "run.json"


def parts_dir_for(out: str | os.PathLike) -> Path:
    """The hidden folder holding committed units of ``out``."""
    out = Path(out)
    return out.with_name(f".{out.name}.parts")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _store_state(out: Path) -> str:
    """``missing``, ``complete``, ``incomplete`` (a probekit store) or ``foreign``."""
    if not out.exists():
        return "missing"
    try:
        with h5py.File(out, "r") as f:
            fmt = f.attrs.get("format")
            fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
            if fmt != FORMATS["store"][0]:
                return "foreign"
            return "complete" if bool(f.attrs.get("complete", False)) else "incomplete"
    except OSError:
        return "foreign"


class UnitWriter:
    """Writes units, then assembles them into the final store.

    Parameters
    ----------
    out
        Path of the store.
    signature
        Everything that determines the store's contents (encoder, weights hash, layers, pooling,
        dtype, batching, source hash, threads, ...). A resumed run must have the same signature.
    resume, overwrite
        What to do with an existing output (see :meth:`open`).
    """

    def __init__(self, out: str | os.PathLike, signature: Mapping[str, Any], *, resume: bool = False, overwrite: bool = False) -> None:
        self.out = Path(out)
        self.parts = parts_dir_for(self.out)
        self.signature = json.loads(json.dumps(signature, sort_keys=True, default=str))
        self.resume = resume
        self.overwrite = overwrite
        self.already_complete = False

    # -- start -----------------------------------------------------------------------------
    def open(self, skeleton_attrs: Mapping[str, Any]) -> None:
        """Check the output against ``--resume``/``--overwrite`` and prepare the parts folder.

        Raises
        ------
        BadOptionError
            The output exists and neither flag allows using it, or a resumed run differs.
        """
        state = _store_state(self.out)
        parent = self.out.parent if str(self.out.parent) else Path(".")
        if self.out.is_dir():
            raise BadOptionError(f"--out {self.out}: is a folder; give a file path such as {self.out / 'latents.h5'}")
        if not parent.exists():
            raise BadOptionError(f"--out {self.out}: folder {parent} does not exist; create it first")
        if self.resume and self.overwrite:
            raise BadOptionError("--resume and --overwrite: choose one")
        if self.resume:
            if state == "complete":  # finished (perhaps killed while tidying up): drop leftover units
                self.already_complete = True
                shutil.rmtree(self.parts, ignore_errors=True)
                return
            if state == "foreign":
                raise BadOptionError(f"--resume: {self.out} is not a probekit store (or unreadable); it was left untouched; "
                                     f"choose another --out or pass --overwrite")
            if state == "missing" and not self.parts.exists():
                raise BadOptionError(f"--resume: nothing to resume at {self.out} (no store and no committed units); run without --resume")
            self._check_signature()
        elif self.overwrite:
            shutil.rmtree(self.parts, ignore_errors=True)
        else:
            if state == "incomplete" or (state == "missing" and self.parts.exists()):
                raise BadOptionError(f"--out {self.out}: an interrupted extraction is there; pass --resume to continue it "
                                     f"or --overwrite to start again")
            if state != "missing":
                raise BadOptionError(f"--out {self.out}: file exists; pass --overwrite to replace it or choose another path")
        self.parts.mkdir(exist_ok=True)
        for stale in [*self.parts.glob("*.tmp"), self.assembly_path]:
            stale.unlink(missing_ok=True)
        signature_path = self.parts / SIGNATURE_FILE
        if not signature_path.exists():
            tmp = signature_path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(self.signature, sort_keys=True, indent=1))
            write_boundary(signature_path)
            os.replace(tmp, signature_path)
        if state == "missing" or (state == "incomplete" and not self.resume):
            self._write_skeleton(skeleton_attrs)

    def _write_skeleton(self, attrs: Mapping[str, Any]) -> None:
        """A small incomplete store at the output path: readers refuse it, naming ``--resume``."""
        tmp = temporary_path_for(self.out)
        fmt, version = FORMATS["store"]
        with h5py.File(tmp, "w") as f:
            f.attrs["format"], f.attrs["schema_version"], f.attrs["complete"] = fmt, version, False
            for key, value in attrs.items():
                set_attr(f, key, value)
        write_boundary(self.out)
        os.replace(tmp, self.out)

    def _check_signature(self) -> None:
        path = self.parts / SIGNATURE_FILE
        if not path.exists():
            return
        try:
            recorded = json.loads(path.read_text())
        except ValueError:
            raise FileFormatError(f"{path}: damaged run record; start again with --overwrite") from None
        # the thread count is adopted from the interrupted run rather than compared
        differing = sorted(k for k in set(recorded) | set(self.signature)
                           if k != "threads" and recorded.get(k) != self.signature.get(k))
        if differing:
            details = "; ".join(f"{k}: was {recorded.get(k)!r}, now {self.signature.get(k)!r}" for k in differing[:4])
            raise BadOptionError(f"--resume: the options differ from the interrupted run ({details}); use the same options or --overwrite")

    @property
    def recorded_signature(self) -> dict[str, Any]:
        """The signature of the run whose units are in the parts folder."""
        path = self.parts / SIGNATURE_FILE
        return json.loads(path.read_text()) if path.exists() else dict(self.signature)

    # -- units -----------------------------------------------------------------------------
    def unit_path(self, unit: int) -> Path:
        """File of committed unit ``unit``."""
        return self.parts / f"unit-{unit:06d}.h5"

    def is_done(self, unit: int) -> bool:
        """Whether unit ``unit`` is committed."""
        return self.unit_path(unit).exists()

    def write_unit(self, unit: int, start: int, stop: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Commit one unit atomically: its arrays (clip axis first) for clips ``start .. stop - 1``."""
        path = self.unit_path(unit)
        tmp = path.with_suffix(".h5.tmp")
        with h5py.File(tmp, "w") as f:
            f.attrs["start"], f.attrs["stop"] = start, stop
            for name, array in arrays.items():
                f.create_dataset(name, data=array)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        write_boundary(path)
        os.replace(tmp, path)
        _fsync_dir(self.parts)

    # -- assembly ------------------------------------------------------------------------
    @property
    def assembly_path(self) -> Path:
        """The store being assembled (inside the parts folder; renamed to the output at the end)."""
        return self.parts / "assembly.h5"

    def start_assembly(
        self,
        n_clips: int,
        *,
        attrs: Mapping[str, Any],
        clip_strings: Mapping[str, list[str]],
        static: Mapping[str, np.ndarray],
        compression: str | None = None,
        offset: int = 0,
    ) -> None:
        """Begin the final store (from scratch, also on resume); units are appended as they commit.

        ``offset`` is the global index of the store's first clip (a rank's shard starts there).
        """
        fmt, version = FORMATS["store"]
        self._n_clips, self._offset = n_clips, offset
        self._options: dict[str, Any] = {}
        if compression and compression != "none":
            self._options["compression"] = compression
            if compression == "gzip":
                self._options["compression_opts"] = 4
        self._targets: dict[str, h5py.Dataset] = {}
        self._appended: set[int] = set()
        self._ranges: dict[int, tuple[int, int]] = {}
        f = self._assembly = h5py.File(self.assembly_path, "w")
        f.attrs["format"], f.attrs["schema_version"], f.attrs["complete"] = fmt, version, False
        for key, value in attrs.items():
            set_attr(f, key, value)
        for name, values in clip_strings.items():
            f.create_dataset(f"clips/{name}", data=string_array(values), track_times=False)
        for name, array in static.items():
            f.create_dataset(name, data=array, track_times=False)

    def append(self, unit: int, derived: Mapping[str, np.ndarray], arrays: Mapping[str, np.ndarray] | None = None) -> None:
        """Add unit ``unit`` to the store being assembled.

        Parameters
        ----------
        unit
            A committed unit.
        derived
            Arrays that are not kept in the unit file because they are cheap to recompute from the
            source (the aligned labels).
        arrays
            The unit's committed arrays when still in memory; read back from its file otherwise.
        """
        if arrays is None:
            with h5py.File(self.unit_path(unit), "r") as part:
                names: list[str] = []
                part.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
                arrays = {name: part[name][()] for name in names}
                start, stop = int(part.attrs["start"]), int(part.attrs["stop"])
        else:
            start, stop = self._ranges[unit]
        start, stop = start - self._offset, stop - self._offset
        everything = {**arrays, **derived}
        f = self._assembly
        if not self._targets:
            for name in sorted(everything):
                source = everything[name]
                shape = (self._n_clips,) + source.shape[1:]
                chunks = (1,) + source.shape[1:] if source.ndim > 1 else (min(self._n_clips, 4096),)
                fill = np.nan if source.dtype.kind == "f" else None
                self._targets[name] = f.create_dataset(name, shape=shape, dtype=source.dtype, chunks=chunks,
                                                       fillvalue=fill, track_times=False, **self._options)
        if sorted(everything) != sorted(self._targets):
            raise FileFormatError(f"{self.unit_path(unit)}: holds other datasets than the first unit; start again with --overwrite")
        for name, target in self._targets.items():
            target[start:stop] = everything[name]
        self._appended.add(unit)

    def commit(self, unit: int, start: int, stop: int, arrays: Mapping[str, np.ndarray], derived: Mapping[str, np.ndarray]) -> None:
        """Write unit ``unit`` durably (``arrays`` only), then append it with ``derived`` to the store being assembled."""
        self.write_unit(unit, start, stop, arrays)
        self._ranges[unit] = (start, stop)
        self.append(unit, derived, arrays)

    def finish(self, units: Iterable[int]) -> Path:
        """Append any unit not appended yet, mark the store complete and move it to the output path."""
        units = list(units)
        missing = [u for u in units if not self.is_done(u)]
        if missing:
            self._assembly.close()
            raise FileFormatError(f"{self.out}: units {missing[:5]} are missing; run again with --resume")
        missing = [u for u in units if u not in self._appended]
        if missing:
            self._assembly.close()
            raise FileFormatError(f"{self.out}: units {missing[:5]} were not assembled; run again with --resume")
        self._assembly.attrs["complete"] = True
        self._assembly.close()
        with open(self.assembly_path, "rb+") as handle:
            os.fsync(handle.fileno())
        write_boundary(self.out)
        os.replace(self.assembly_path, self.out)
        _fsync_dir(self.out.parent if str(self.out.parent) else Path("."))
        shutil.rmtree(self.parts, ignore_errors=True)
        return self.out

    def abort(self) -> None:
        """Close the store being assembled (after an error); committed units stay for --resume."""
        assembly = getattr(self, "_assembly", None)
        if assembly is not None and assembly.id.valid:
            assembly.close()
