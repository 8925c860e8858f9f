"""Readable summaries of probekit files, used by ``probekit info``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py

from probekit.errors import FileFormatError
from probekit.formats.damage import guard_path_reader
from probekit.h5io import FORMATS, get_attr, read_strings

#: Root ``format`` of a run's ``attribution.h5`` (``probekit attribute``).
ATTRIBUTION_FORMAT = "probekit.attribution"


def read_manifest_text(path: str | os.PathLike) -> str:
    """The text of a run directory's ``manifest.json`` once checked to be a JSON object.

    Raises
    ------
    FileFormatError
        No manifest, or not a readable JSON object.
    """
    manifest = Path(path) / "manifest.json"
    if not manifest.exists():
        raise FileFormatError(f"{path}: a folder without manifest.json is not a probekit run directory")
    try:
        text = manifest.read_text(encoding="utf-8")
        if not isinstance(json.loads(text), dict):
            raise ValueError("not an object")
    except (OSError, ValueError):
        raise FileFormatError(f"{manifest}: not a readable run manifest (JSON object); re-run probekit probe") from None
    return text


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
        read_manifest_text(path)
        return describe_run(path)
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise FileFormatError(f"{path}: not an HDF5 file; probekit info reads world files, stores and run folders") from None
    with f:
        fmt = get_attr(f, "format")
        known = {name: version for name, version in FORMATS.values()}
        known[ATTRIBUTION_FORMAT] = 1  # a run's attribution.h5 (probekit attribute)
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
        if fmt == ATTRIBUTION_FORMAT and "maps" in f:
            lines.extend(_attribution_groups(f["maps"]))
        lines.append("datasets:")

        def visit(name: str, obj: h5py.HLObject) -> None:
            if isinstance(obj, h5py.Dataset):
                unit = get_attr(obj, "unit", "")
                lines.append(f"  {name}: {obj.shape} {obj.dtype}" + (f" [{unit}]" if unit else ""))

        f.visititems(visit)
    return "\n".join(lines)


def _attribution_groups(maps: h5py.Group) -> list[str]:
    """One line per explained store / target / slot / method with its clips and layer."""
    import numpy as np

    lines = ["maps (store / target / slot / method: clips explained):"]

    def visit(name: str, obj: h5py.HLObject) -> None:
        if isinstance(obj, h5py.Group) and "map" in obj:
            layers = sorted({int(v) for v in np.asarray(obj["layer"][()]).ravel()}) if "layer" in obj else []
            lines.append(f"  {name.replace('/', ' / ')}: {obj['map'].shape[0]} clips"
                         + (f", layer {', '.join(map(str, layers))}" if layers else ""))

    maps.visititems(visit)
    return lines


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


#: What each store stands for in a run, by the manifest's ``role`` of its input (or, in runs that
#: record none, the role its ``control`` implies).
STORE_ROLES = {"encoder": "encoder under test", "random_twin": "random-weight twin (baseline)", "pixels": "pixels (baseline)",
               "shuffled": "shuffled frames (baseline)", "planted": "planted-signal reference (known answer)"}
ROLE_OF_CONTROL = {"none": "encoder", "random_init": "random_twin", "pixels": "pixels", "shuffled": "shuffled"}


def report_candidates(run_dir: str | os.PathLike) -> list[Path]:
    """Where a run's report is looked for: ``reports/<run name>.html`` (``probekit report``'s
    default, from the current folder), ``<run>.html`` and ``report.html`` beside the run (the
    demo's layout) and inside it."""
    run_dir = Path(run_dir)
    name = run_dir.resolve().name
    return [Path("reports") / f"{name}.html", run_dir.parent / f"{name}.html", run_dir.parent / "report.html",
            run_dir / "report.html"]


def describe_run(path: str | os.PathLike) -> str:
    """A readable summary of a run directory: its stores with their roles, targets, stages, the
    headline (the report's), and where the report is.

    Parameters
    ----------
    path
        A run directory written by ``probekit probe``.

    Returns
    -------
    str
        Several lines; ``probekit info RUN --json`` prints the raw manifest instead.
    """
    from probekit.report.build import WEIGHT_WORDS
    from probekit.report.headline import headline_lines
    from probekit.rundir import load_run

    path = Path(path)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("complete") is not True:
        inputs = ", ".join(str(e.get("label", "?")) for e in manifest.get("inputs", []) if isinstance(e, dict))
        return (f"probekit run directory {path} (INCOMPLETE: its probe run did not finish; re-run the same "
                f"`probekit probe` command to resume)\nstores: {inputs or 'none recorded'}")
    run = load_run(path).engine_view()
    lines = [f"probekit run directory {path} (complete; probed {manifest.get('created_utc', 'n/a')}, "
             f"probekit {manifest.get('probekit_version', 'n/a')})", "stores:"]
    for label in run.stores:
        entry = run.input(label)
        role = str(entry.get("role") or ROLE_OF_CONTROL.get(str(entry.get("control", "none")), entry.get("control")))
        if role == "encoder" and str(entry.get("weights", "")) == "planted":
            role = "planted"
        role = STORE_ROLES.get(role, role)
        layers = [int(v) for v in entry.get("layers", [])]
        file = run.store_path(label)
        weights = str(entry.get("weights", ""))
        lines.append(f"  {label}: {role}; encoder {entry.get('encoder', '?')} with {WEIGHT_WORDS.get(weights, weights)}, "
                     f"{len(layers)} layer{'s' if len(layers) != 1 else ''}"
                     + (f" ({min(layers)}-{max(layers)})" if len(layers) > 1 else "")
                     + f"; store {entry.get('path', '?')} ({'on disk' if file is not None else 'not on disk'})")
    targets: dict[str, list[int]] = {}
    for target, slot in run.results[["target", "slot"]].drop_duplicates().itertuples(index=False):
        targets.setdefault(str(target), []).append(int(slot))
    shown = [name if slots == [-1] else f"{name} (slot{'s' if len(slots) > 1 else ''} {', '.join(str(s) for s in sorted(slots))})"
             for name, slots in targets.items()]
    lines.append(f"targets ({len(targets)}): {', '.join(shown)}")
    skips = manifest.get("stage_skips") or {}
    lines.append("stages: " + ", ".join(run.stages)
                 + "".join(f"; {stage} skipped ({reason})" for stage, reason in skips.items()))
    suite = manifest.get("suite_effective") or {}
    lines.append(f"suite {suite.get('name', 'n/a') if isinstance(suite, dict) else 'n/a'}: {manifest.get('folds', 'n/a')} folds grouped by family, seed "
                 f"{manifest.get('seed', 'n/a')}, {len(run.results)} result rows")
    lines.append("headline (readout and layer chosen by inner CV):")
    lines.extend("  " + line for line in headline_lines(run))
    found = [p for p in report_candidates(path) if p.is_file()]
    if found:
        lines.append("report: " + ", ".join(str(p) for p in dict.fromkeys(found)))
    else:
        lines.append(f"report: none found ({', '.join(str(p) for p in report_candidates(path))}); "
                     f"write one with `probekit report {path}`")
    lines.append(f"raw manifest: probekit info {path} --json")
    return "\n".join(lines)
