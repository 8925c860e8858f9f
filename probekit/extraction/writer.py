"""Crash-safe, resumable writing of a latent store.

Work is committed in units (one batch of clips each). Each unit is a small HDF5 file in a hidden
folder next to the output (``.<out>.parts/unit-000012.h5``), written under a temporary name,
flushed to disk and renamed: a unit either exists whole or not at all, so a ``kill -9`` at any
moment leaves every committed unit readable. While the run is going, the output path holds a
small *incomplete* store (``complete = False``) that readers refuse with a message naming
``--resume``. At the end the units are copied, in order, into the final store, which is written
atomically and marked complete; the parts folder is then removed. The final store depends only on
the units' contents, so a resumed run gives the same bytes in every dataset as an uninterrupted one.
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
from probekit.h5io import FORMATS, atomic_h5, set_attr, string_array, temporary_path_for

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
            if state == "complete":
                self.already_complete = True
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
        for stale in self.parts.glob("*.tmp"):
            stale.unlink()
        signature_path = self.parts / SIGNATURE_FILE
        if not signature_path.exists():
            tmp = signature_path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(self.signature, sort_keys=True, indent=1))
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
        os.replace(tmp, self.out)

    def _check_signature(self) -> None:
        path = self.parts / SIGNATURE_FILE
        if not path.exists():
            return
        try:
            recorded = json.loads(path.read_text())
        except ValueError:
            raise FileFormatError(f"{path}: damaged run record; start again with --overwrite") from None
        differing = sorted(k for k in set(recorded) | set(self.signature) if recorded.get(k) != self.signature.get(k))
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
        os.replace(tmp, path)
        _fsync_dir(self.parts)

    # -- finish ----------------------------------------------------------------------------
    def finish(
        self,
        units: Iterable[int],
        n_clips: int,
        *,
        attrs: Mapping[str, Any],
        clip_strings: Mapping[str, list[str]],
        static: Mapping[str, np.ndarray],
        compression: str | None = None,
        offset: int = 0,
    ) -> Path:
        """Assemble the committed units, in order, into the complete store at the output path.

        ``offset`` is the global index of the store's first clip (a rank's shard starts there).
        """
        units = list(units)
        missing = [u for u in units if not self.is_done(u)]
        if missing:
            raise FileFormatError(f"{self.out}: units {missing[:5]} are missing; run again with --resume")
        options: dict[str, Any] = {}
        if compression and compression != "none":
            options["compression"] = compression
            if compression == "gzip":
                options["compression_opts"] = 4
        with atomic_h5(self.out, "store", dict(attrs)) as f:
            for name, values in clip_strings.items():
                f.create_dataset(f"clips/{name}", data=string_array(values), track_times=False)
            for name, array in static.items():
                f.create_dataset(name, data=array, track_times=False)
            created: set[str] = set()
            for unit in units:
                with h5py.File(self.unit_path(unit), "r") as part:
                    start, stop = int(part.attrs["start"]) - offset, int(part.attrs["stop"]) - offset
                    names: list[str] = []
                    part.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
                    for name in sorted(names):
                        source = part[name]
                        if name not in created:
                            shape = (n_clips,) + source.shape[1:]
                            chunks = (1,) + source.shape[1:] if source.ndim > 1 else (min(n_clips, 4096),)
                            fill = np.nan if source.dtype.kind == "f" else None
                            f.create_dataset(name, shape=shape, dtype=source.dtype, chunks=chunks, fillvalue=fill,
                                             track_times=False, **options)
                            created.add(name)
                        f[name][start:stop] = source[()]
        shutil.rmtree(self.parts, ignore_errors=True)
        return self.out
