"""Readable summaries of probekit files, used by ``probekit info``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py

from probekit.errors import FileFormatError
from probekit.formats.damage import guard_path_reader
from probekit.h5io import FORMATS, get_attr, read_strings


@guard_path_reader
def describe(path: str | os.PathLike) -> str:
    """Describe a probekit world file, latent store or run directory.

    Parameters
    ----------
    path
        The file or folder to describe.

    Returns
    -------
    str
        Several lines: format, version, completeness, root attributes and every dataset with
        its shape and dtype.
    """
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file or folder; check the path")
    if path.is_dir():
        manifest = path / "manifest.json"
        if not manifest.exists():
            raise FileFormatError(f"{path}: a folder without manifest.json is not a probekit run directory")
        try:
            text = manifest.read_text(encoding="utf-8")
            if not isinstance(json.loads(text), dict):
                raise ValueError("not an object")
        except (OSError, ValueError):
            raise FileFormatError(f"{manifest}: not a readable run manifest (JSON object); re-run probekit probe") from None
        return f"probekit run directory {path}\n" + text
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise FileFormatError(f"{path}: not an HDF5 file; probekit info reads world files, stores and run folders") from None
    with f:
        fmt = get_attr(f, "format")
        known = {name: version for name, version in FORMATS.values()}
        if fmt not in known:
            raise FileFormatError(f"{path}: not a probekit file (format attribute {fmt!r})")
        lines = [
            f"{path}: {fmt} schema version {get_attr(f, 'schema_version')} "
            f"({'complete' if get_attr(f, 'complete') else 'INCOMPLETE'})",
            f"size on disk: {path.stat().st_size / 2**20:.1f} MiB",
            "attributes:",
        ]
        for key in sorted(f.attrs):
            if key in ("format", "schema_version", "complete"):
                continue
            text = str(get_attr(f, key))
            lines.append(f"  {key}: {text if len(text) <= 120 else text[:117] + '...'}")
        if fmt == FORMATS["world"][0] and "clips/scenario" in f and "clips/kind" in f:
            lines.extend(_world_clip_counts(f))
        lines.append("datasets:")

        def visit(name: str, obj: h5py.HLObject) -> None:
            if isinstance(obj, h5py.Dataset):
                unit = get_attr(obj, "unit", "")
                lines.append(f"  {name}: {obj.shape} {obj.dtype}" + (f" [{unit}]" if unit else ""))

        f.visititems(visit)
    return "\n".join(lines)


def _world_clip_counts(f: h5py.File) -> list[str]:
    """Clips per scenario and kind, violation types and counterfactual factors of a world file."""
    import pandas as pd

    table = pd.DataFrame({name: read_strings(f[f"clips/{name}"]) for name in ("scenario", "kind")})
    for name in ("violation", "counterfactual_factor"):
        if f"clips/{name}" in f:
            table[name] = read_strings(f[f"clips/{name}"])
    lines = [f"clips: {len(table)} in {len(set(read_strings(f['clips/family_id'])))} families"]
    counts = pd.crosstab(table["scenario"], table["kind"], margins=True, margins_name="total")
    lines.extend("  " + line for line in counts.to_string().splitlines())
    for name, label in (("violation", "violations"), ("counterfactual_factor", "counterfactual factors")):
        if name in table:
            values = table[name][table[name] != ""].value_counts().sort_index()
            if len(values):
                lines.append(f"{label}: " + ", ".join(f"{key} {count}" for key, count in values.items()))
    return lines
