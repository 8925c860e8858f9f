"""Read a run directory written by ``probekit probe`` (see ``docs/formats.md``).

:func:`load_run` checks the manifest (format, schema version, completeness) and gives the
tidy results table as a pandas DataFrame, plus the inner-CV selections and paired comparisons
when the run has them. It never writes anything.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from probekit.errors import FileFormatError
from probekit.formats.damage import guard_path_reader, guard_reader

#: The ``format`` value of a run manifest and the schema version this probekit reads.
RUN_FORMAT = "probekit.run"
RUN_SCHEMA_VERSION = 1

#: ``control`` values that mark a store's own scores: the store is an encoder (``none``) or
#: stands for a control itself (random weights, pixels, shuffled frames). Other control values
#: are baselines fitted beside a store's readouts (nuisance, geometry, control_task, ceiling).
STORE_CONTROLS = ("none", "random_init", "pixels", "shuffled")

#: Columns every results table has (docs/formats.md).
RESULT_COLUMNS = (
    "store", "store_hash", "encoder", "weights", "layer", "target", "slot", "readout", "control",
    "scenario", "metric", "score", "ci_low", "ci_high", "fold_scores", "n", "n_families", "unit", "note",
)


@dataclass
class Run:
    """A loaded run directory.

    Attributes
    ----------
    path
        The run directory.
    manifest
        ``manifest.json`` as a dict.
    results
        The tidy results table, one row per (store, layer, target, slot, readout, control,
        scenario, metric).
    selection
        ``selection.csv`` (layers and readouts chosen by inner CV), empty if absent.
    comparisons
        ``comparisons.csv`` (paired bootstrap over families), empty if absent.
    gains
        ``gains.csv`` (conditional gains of joint models over the label baselines, and their
        differences between stores), empty if absent.
    """

    path: Path
    manifest: dict[str, Any]
    results: pd.DataFrame
    selection: pd.DataFrame = field(default_factory=pd.DataFrame)
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    gains: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def stores(self) -> list[str]:
        """Labels of the probed stores: the manifest's inputs first, in order, then any other store
        with its own scores in the table (not the label-only baselines)."""
        own = self.results[self.results["control"].isin(STORE_CONTROLS) & self.results["score"].notna()]
        present = [str(s) for s in own["store"].drop_duplicates() if str(s)]
        labels = [str(entry.get("label")) for entry in self.manifest.get("inputs", [])]
        return [s for s in labels if s in present] + [s for s in present if s not in labels]

    @property
    def stages(self) -> list[str]:
        """Stages this run holds (``manifest["stages"]``)."""
        return [str(s) for s in self.manifest.get("stages", ["probe"])]

    def table(self, stage: str) -> pd.DataFrame:
        """The tidy table a stage added to this run (``tables/<stage>.parquet``).

        Raises
        ------
        FileFormatError
            The stage did not run (or wrote no table).
        """
        from probekit.formats.run import read_stage_table

        if stage not in self.stages:
            skips = self.manifest.get("stage_skips", {}) or {}
            why = f" (skipped: {skips[stage]})" if stage in skips else ""
            raise FileFormatError(f"{self.path}: the {stage} stage did not run{why}; run `probekit probe --stages {stage}`")
        return read_stage_table(self.path, stage)

    def input(self, store: str) -> dict[str, Any]:
        """The manifest's input entry of one store label (empty dict if unknown)."""
        for entry in self.manifest.get("inputs", []):
            if str(entry.get("label")) == store:
                return dict(entry)
        return {}

    def store_path(self, store: str) -> Path | None:
        """Path of the latent store behind ``store`` if it still exists on disk, else None.

        Relative paths are tried against the run directory (where ``probekit probe`` writes them
        from) and then the current folder (runs of older probekit versions).
        """
        raw = self.input(store).get("path")
        if not raw:
            return None
        candidates = [Path(raw)] if Path(raw).is_absolute() else [self.path / raw, Path(raw)]
        return next((p for p in candidates if p.is_file()), None)

    def __repr__(self) -> str:
        return (
            f"Run({str(self.path)!r}, stores={self.stores}, targets={self.results['target'].nunique()}, "
            f"rows={len(self.results)})"
        )


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``manifest.json`` of a run directory.

    Raises
    ------
    FileFormatError
        The folder or its manifest is missing, unreadable, of another format or schema version,
        or the run did not finish.
    """
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such run directory; check the path (write one with `probekit probe --out DIR`)")
    if not path.is_dir():
        raise FileFormatError(f"{path}: not a folder; pass the run directory written by `probekit probe --out DIR`")
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        raise FileFormatError(f"{path}: no manifest.json, so not a probekit run directory; pass the folder given to `probekit probe --out`")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FileFormatError(f"{manifest_path}: not readable JSON ({exc.__class__.__name__}); re-run `probekit probe`") from None
    if not isinstance(manifest, dict) or manifest.get("format") != RUN_FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise FileFormatError(f"{manifest_path}: format {found!r} is not {RUN_FORMAT!r}; pass a run directory written by `probekit probe`")
    version = manifest.get("schema_version")
    if version != RUN_SCHEMA_VERSION:
        raise FileFormatError(
            f"{path}: {RUN_FORMAT} schema version {version} found, this probekit reads version "
            f"{RUN_SCHEMA_VERSION}; re-run `probekit probe` with this probekit"
        )
    if manifest.get("complete") is not True:
        raise FileFormatError(f"{path}: the run is incomplete (its probe run did not finish); resume or re-run `probekit probe`")
    return manifest


@guard_path_reader
def load_run(path: str | os.PathLike) -> Run:
    """Load a run directory written by ``probekit probe``.

    Parameters
    ----------
    path
        The run directory (holds ``manifest.json`` and ``results.parquet`` or ``results.csv``).

    Returns
    -------
    Run
        ``.results`` (DataFrame), ``.manifest`` (dict), ``.selection``, ``.comparisons``.

    Raises
    ------
    FileFormatError
        Missing folder, another format or schema version, an incomplete run, or a results table
        without the columns of docs/formats.md.

    Examples
    --------
    >>> import probekit as pk                                   # doctest: +SKIP
    >>> run = pk.load_run("runs/demo")
    >>> run.results.query("control == 'none' and metric == 'r2'").head()
    """
    path = Path(path)
    manifest = read_manifest(path)
    parquet, csv = path / "results.parquet", path / "results.csv"
    if parquet.is_file():
        results = pd.read_parquet(parquet)
    elif csv.is_file():
        results = pd.read_csv(csv, keep_default_na=False, na_values=[""])
    else:
        raise FileFormatError(f"{path}: no results.parquet or results.csv; re-run `probekit probe`")
    missing = [c for c in RESULT_COLUMNS if c not in results.columns and c not in ("fold_scores", "note", "store_hash")]
    if missing:
        raise FileFormatError(f"{path}: the results table lacks columns {missing}; re-run `probekit probe` with this probekit")
    results = _normalise_results(results)
    return Run(
        path=path,
        manifest=manifest,
        results=results,
        selection=_read_optional_csv(path / "selection.csv"),
        comparisons=_read_optional_csv(path / "comparisons.csv"),
        gains=_read_optional_csv(path / "gains.csv"),
    )


def _normalise_results(results: pd.DataFrame) -> pd.DataFrame:
    results = results.copy()
    for column in ("layer", "slot"):
        results[column] = pd.to_numeric(results[column], errors="coerce").fillna(-1).astype(int)
    for column in ("score", "ci_low", "ci_high"):
        results[column] = pd.to_numeric(results[column], errors="coerce").astype(float)
    for column in ("store", "encoder", "weights", "target", "readout", "control", "scenario", "metric", "unit"):
        results[column] = results[column].fillna("").astype(str)
    if "note" not in results.columns:
        results["note"] = ""
    results["note"] = results["note"].fillna("").astype(str)
    return results


def _read_optional_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame()
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    for column in ("layer", "slot"):
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(-1).astype(int)
    return frame


guard_reader(Run)  # damaged tables read as one FileFormatError line
