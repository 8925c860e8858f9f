"""``probekit merge``: present shard stores (one per torchrun rank) as one store.

Datasets with a clip axis become HDF5 virtual datasets that read from the shards in rank order
(the shard files must stay next to the merged file; they are referenced by relative path); string
columns and the small shared arrays are copied. The shards must come from the same extraction
(same encoder, weights, layers, pooling and dtype).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from probekit.errors import BadOptionError, FileFormatError
from probekit.extraction.surprise import SURPRISE_STATIC
from probekit.formats.store import STATIC_DATASETS, clip_dataset, provenance
from probekit.h5io import atomic_h5, check_writable_output, get_attr, open_checked, read_strings, string_array

#: Attributes that must agree across shards.
SHARED_ATTRS = ("encoder", "init", "weights", "weight_hash", "layer_indices", "dtype", "token_grid", "pool",
                "sampling", "source_hash", "shuffle_frames_seed", "world_size")
#: Attributes describing one shard only.
PER_SHARD_ATTRS = ("rank", "clip_range")
#: Datasets shared by all clips (copied from the first shard after checking they agree).
STATIC = (*STATIC_DATASETS, *SURPRISE_STATIC)


def _same(a: object, b: object) -> bool:
    if isinstance(a, (np.ndarray, list, tuple)) or isinstance(b, (np.ndarray, list, tuple)):
        try:
            return bool(np.array_equal(np.asarray(a), np.asarray(b)))
        except (TypeError, ValueError):
            return False
    return a == b


def _datasets(f: h5py.File) -> dict[str, h5py.Dataset]:
    found: dict[str, h5py.Dataset] = {}
    f.visititems(lambda name, obj: found.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return found


def merge_stores(shards: Sequence[str | os.PathLike], out: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``out``: one store over ``shards`` (in the order given) through virtual datasets.

    Raises
    ------
    FileFormatError
        A shard is missing, foreign or incomplete.
    BadOptionError
        Shards from different extractions, or ``out`` exists without ``overwrite``.
    """
    if not shards:
        raise BadOptionError("merge: give at least one shard store")
    out = check_writable_output(out, overwrite=overwrite)
    paths = [Path(p) for p in shards]
    if any(p.resolve() == out.resolve() for p in paths):
        raise BadOptionError(f"--out {out}: is one of the shards; choose another path")
    seen: dict[Path, Path] = {}
    for path in paths:
        if path.resolve() in seen:
            raise BadOptionError(f"merge: {path} is given twice (also as {seen[path.resolve()]}); give each shard once")
        seen[path.resolve()] = path
    files = [open_checked(p, "store", resume_hint="finish that rank with `probekit extract ... --resume`") for p in paths]
    try:
        first = files[0]
        check_shard_set(paths, files)
        for path, f in zip(paths[1:], files[1:]):
            for key in SHARED_ATTRS:
                if not _same(get_attr(f, key), get_attr(first, key)):
                    raise BadOptionError(f"merge: {path} differs from {paths[0]} in {key!r} ({get_attr(f, key)!r} vs "
                                         f"{get_attr(first, key)!r}); merge shards of one extraction only")
        layouts = [_datasets(f) for f in files]
        names = sorted(layouts[0])
        for path, layout in zip(paths[1:], layouts[1:]):
            if sorted(layout) != names:
                raise BadOptionError(f"merge: {path} holds other datasets than {paths[0]}; merge shards of one extraction only")
        counts = [int(f[clip_dataset("clip_id")].shape[0]) for f in files]
        total = sum(counts)
        attrs = provenance(first)
        for key in PER_SHARD_ATTRS:
            attrs.pop(key, None)
        attrs["shards"] = [os.path.relpath(p.resolve(), out.resolve().parent) for p in paths]
        attrs["clip_range"] = [int(get_attr(files[0], "clip_range", [0, 0])[0]), int(get_attr(files[-1], "clip_range", [0, total])[1])]
        with atomic_h5(out, "store", attrs) as merged:
            for name in names:
                data = layouts[0][name]
                if name in STATIC:  # shared by all clips: copied after checking the shards agree
                    for path, layout in zip(paths[1:], layouts[1:]):
                        if not np.array_equal(layout[name][()], data[()]):
                            raise BadOptionError(f"merge: {path} has another {name} than {paths[0]}")
                    merged.create_dataset(name, data=data[()])
                elif h5py.check_string_dtype(data.dtype) is not None:
                    values = [v for f in files for v in read_strings(f[name])]
                    merged.create_dataset(name, data=string_array(values))
                else:
                    _virtual(merged, name, paths, layouts, counts, out)
    finally:
        for f in files:
            f.close()
    return out


def check_shard_set(paths: Sequence[Path], files: Sequence[h5py.File]) -> None:
    """Refuse a set of shards that is not exactly ranks ``0..n-1`` of one ``n``-rank extraction.

    Raises
    ------
    BadOptionError
        A rank is missing or repeated, the shards are out of rank order, or their clip ranges
        do not join up.
    """
    ranks = [int(get_attr(f, "rank", 0)) for f in files]
    world = int(get_attr(files[0], "world_size", 1))
    if len(files) != world or sorted(ranks) != list(range(world)):
        missing = sorted(set(range(world)) - set(ranks))
        repeated = sorted({r for r in ranks if ranks.count(r) > 1})
        detail = "; ".join(part for part in (
            f"missing rank(s) {', '.join(map(str, missing))}" if missing else "",
            f"rank(s) {', '.join(map(str, repeated))} given more than once" if repeated else "",
        ) if part) or f"{len(files)} shards for {world} ranks"
        raise BadOptionError(f"merge: the shards are not one complete set of {world} rank(s) ({detail}); "
                             f"give every rank's shard exactly once")
    if ranks != list(range(world)):
        order = " ".join(str(p) for _, p in sorted(zip(ranks, paths)))
        raise BadOptionError(f"merge: give the shards in rank order: {order}")
    ranges = [[int(v) for v in get_attr(f, "clip_range", [0, 0])] for f in files]
    for (path, (_, stop)), (next_path, (start, _)) in zip(zip(paths, ranges), zip(paths[1:], ranges[1:])):
        if stop != start:
            raise BadOptionError(f"merge: {path} ends at clip {stop} but {next_path} starts at clip {start}; "
                                 f"merge shards of one extraction only")


def _virtual(merged: h5py.File, name: str, paths: list[Path], layouts: list[dict[str, h5py.Dataset]],
             counts: list[int], out: Path) -> None:
    first = layouts[0][name]
    for path, layout, n in zip(paths, layouts, counts):
        if layout[name].shape[1:] != first.shape[1:] or layout[name].shape[0] != n or layout[name].dtype != first.dtype:
            raise FileFormatError(f"merge: {path}:{name} has shape {layout[name].shape}, expected ({n}, *{first.shape[1:]})")
    vlayout = h5py.VirtualLayout(shape=(sum(counts),) + first.shape[1:], dtype=first.dtype)
    offset = 0
    for path, layout, n in zip(paths, layouts, counts):
        relative = os.path.relpath(path.resolve(), out.resolve().parent)
        vlayout[offset : offset + n] = h5py.VirtualSource(relative, name, shape=layout[name].shape)
        offset += n
    fill = np.nan if first.dtype.kind == "f" else 0
    merged.create_virtual_dataset(name, vlayout, fillvalue=fill)
