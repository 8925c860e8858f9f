"""Fitted probes in one ``.npz`` file per (store, layer) (no pickles), so re-runs reuse them and runs resume.

A run's ``probes/`` folder holds one file ``<store hash[:12]>_L<layer>.npz`` per store and layer
(layer ``-1`` for the label-only baselines). Each fitted outer fold is one *entry* of that file,
named ``<target>/s<slot>/<readout>/<control>/f<fold>/<config hash>``; its arrays are stored as
``<entry>/test``, ``<entry>/pred``, ``<entry>/inner``, optionally ``<entry>/score``, and the weights
as ``<entry>/w_<name>``.

A file is rewritten whole (old entries plus new ones) through a temporary file and one atomic
rename (:func:`probekit.formats.atomic.atomic_path`), once per finished unit of fits, so a crash
leaves the previous file or the new one, never half of one. A file that cannot be read (truncated,
corrupted) counts as missing: its fits are refitted and the file is written afresh.

Run directories of earlier versions hold one ``.npz`` per fold
(``<hash>_L<layer>_<target>_s<slot>_<readout>_<control>_f<fold>_<config>.npz``); an entry missing
from the layer's file is looked up there, so such runs still resume. Those files are only read,
never rewritten; new fits go to the layer's file.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from probekit.formats.atomic import atomic_path

#: Errors that make a cache file unreadable (it then counts as missing).
_UNREADABLE = (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile)

#: Fields every entry holds (``score`` and the ``w_`` weights are optional).
_REQUIRED = ("test", "pred", "inner")


@dataclass(frozen=True)
class ProbeKey:
    """Where one fitted outer fold lives: its (store, layer) file and its entry in that file."""

    store_hash: str
    layer: int
    target: str
    slot: int
    readout: str
    control: str
    fold: int
    config: str

    @property
    def entry(self) -> str:
        """The entry's name inside the (store, layer) file."""
        return f"{self.target}/s{self.slot}/{self.readout}/{self.control}/f{self.fold}/{self.config}"

    @property
    def file_name(self) -> str:
        """Name of the (store, layer) file."""
        return f"{self.store_hash[:12]}_L{self.layer}.npz"

    @property
    def legacy_name(self) -> str:
        """Name of the per-fold file earlier versions wrote for this fold."""
        return (f"{self.store_hash[:12]}_L{self.layer}_{self.target}_s{self.slot}_{self.readout}_{self.control}"
                f"_f{self.fold}_{self.config}.npz")


class ProbeCache:
    """Fitted folds kept in one ``.npz`` per (store hash, layer) under ``folder``.

    Parameters
    ----------
    folder
        The ``probes/`` folder of a run directory (created if missing).
    memo_files
        How many (store, layer) files are kept in memory after reading. The sweep works layer by
        layer, so a few suffice; each further file is read again from disk when needed.

    Notes
    -----
    Only one process may write a cache folder (the sweep writes from its parent process only).
    """

    def __init__(self, folder: Path, *, memo_files: int = 4) -> None:
        if memo_files < 1:
            raise ValueError(f"memo_files must be at least 1, got {memo_files}")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.memo_files = int(memo_files)
        self._memo: OrderedDict[Path, dict[str, dict[str, Any]]] = OrderedDict()

    @staticmethod
    def config_hash(config: dict[str, Any]) -> str:
        """Short hash of everything besides the key that changes a fit (folds, seed, params)."""
        return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:10]

    def file(self, key: ProbeKey) -> Path:
        """The (store, layer) file that holds ``key``'s entry."""
        return self.folder / key.file_name

    def load(self, key: ProbeKey) -> dict[str, Any] | None:
        """A cached fold result (``test``, ``pred``, ``inner``, optional ``score``, ``weights``), or None.

        Parameters
        ----------
        key
            The fold to look up.

        Returns
        -------
        dict or None
            The record, or None when neither the layer's file nor an earlier version's per-fold
            file holds a readable entry.
        """
        found = self._entries(self.file(key)).get(key.entry)
        if found is None:
            found = _read_legacy(self.folder / key.legacy_name)
        return found

    def load_all(self, keys: Iterable[ProbeKey]) -> list[dict[str, Any]] | None:
        """The records of ``keys`` in order, or None as soon as one is missing."""
        records = []
        for key in keys:
            record = self.load(key)
            if record is None:
                return None
            records.append(record)
        return records

    def save(self, records: dict[ProbeKey, dict[str, Any]]) -> list[Path]:
        """Add ``records`` to their files: one atomic rewrite per (store, layer) file touched.

        Parameters
        ----------
        records
            Fold results by key (``test``, ``pred``, ``inner``, optional ``score`` and ``weights``).

        Returns
        -------
        list of pathlib.Path
            The files rewritten, in the order written (none when ``records`` is empty).
        """
        by_file: dict[Path, dict[str, dict[str, Any]]] = {}
        for key, record in records.items():
            by_file.setdefault(self.file(key), {})[key.entry] = _normalise(record)
        for path, fresh in by_file.items():
            merged = {**self._entries(path), **fresh}
            _write_file(path, merged)
            self._remember(path, merged)
        return list(by_file)

    def _entries(self, path: Path) -> dict[str, dict[str, Any]]:
        """Every entry of one (store, layer) file, read once and then served from memory."""
        if path in self._memo:
            self._memo.move_to_end(path)
            return self._memo[path]
        entries = _read_file(path)
        self._remember(path, entries)
        return entries

    def _remember(self, path: Path, entries: dict[str, dict[str, Any]]) -> None:
        self._memo[path] = entries
        self._memo.move_to_end(path)
        while len(self._memo) > self.memo_files:
            self._memo.popitem(last=False)


def _normalise(record: dict[str, Any]) -> dict[str, Any]:
    """A fold result as the arrays a file holds and a load returns."""
    out: dict[str, Any] = {"test": np.asarray(record["test"]), "pred": np.asarray(record["pred"]), "inner": float(record["inner"])}
    if record.get("score") is not None:
        out["score"] = np.asarray(record["score"])
    out["weights"] = {str(name): np.asarray(value) for name, value in record.get("weights", {}).items()}
    return out


def _record_arrays(record: dict[str, Any]) -> dict[str, np.ndarray]:
    """The arrays of one entry, named by field (``test``, ``pred``, ``inner``, ``score``, ``w_<name>``)."""
    arrays = {"test": record["test"], "pred": record["pred"], "inner": np.asarray(record["inner"])}
    if "score" in record:
        arrays["score"] = record["score"]
    for name, value in record["weights"].items():
        arrays[f"w_{name}"] = value
    return arrays


def _record_from(fields: dict[str, np.ndarray]) -> dict[str, Any] | None:
    """The record of one entry's arrays, or None when a required field is missing."""
    if any(name not in fields for name in _REQUIRED):
        return None
    record: dict[str, Any] = {"test": fields["test"], "pred": fields["pred"], "inner": float(fields["inner"])}
    if "score" in fields:
        record["score"] = fields["score"]
    record["weights"] = {name[2:]: value for name, value in fields.items() if name.startswith("w_")}
    return record


def _write_file(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Write every entry to ``path`` in one atomic rename, entries in sorted order."""
    arrays = {f"{entry}/{field}": value for entry in sorted(entries) for field, value in _record_arrays(entries[entry]).items()}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:  # a file object: np.savez would append .npz to a name
            np.savez(handle, **arrays)


def _read_file(path: Path) -> dict[str, dict[str, Any]]:
    """Every complete entry of a (store, layer) file; empty when the file is missing or unreadable."""
    if not path.is_file():
        return {}
    fields: dict[str, dict[str, np.ndarray]] = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            for name in data.files:
                entry, sep, field = name.rpartition("/")
                if sep:
                    fields.setdefault(entry, {})[field] = data[name]
        records = {entry: _record_from(found) for entry, found in fields.items()}
    except _UNREADABLE:
        return {}
    return {entry: record for entry, record in records.items() if record is not None}


def _read_legacy(path: Path) -> dict[str, Any] | None:
    """The record of an earlier version's per-fold file, or None when it is missing or unreadable."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return _record_from({name: data[name] for name in data.files})
    except _UNREADABLE:
        return None
