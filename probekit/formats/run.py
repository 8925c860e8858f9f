"""The run directory of ``probekit probe``: its one home (see docs/formats.md, "Run directory").

Schema constants, the writer (:func:`base_manifest`, :func:`write_manifest`, :func:`write_tables`,
:func:`write_stage_table`) and the reader (:func:`read_manifest`, :func:`load_run`, :class:`Run`,
:func:`read_stage_table`) live side by side here.

Version 2 of the results table is tidy: one row per (store, layer, readout, target, slot,
baseline, scenario, metric); a store's ``role`` (encoder, random_twin, pixels, shuffled,
planted, labels) is a column of its own, apart from the ``baseline`` a row scores (none,
nuisance, geometry, control_task, ceiling); ``fold_scores`` is a list; ``is_selected`` marks the
rows at the layer inner CV chose for a readout. Version-1 runs (one ``control`` column for both
concepts) are read and converted; other versions are refused in one line.

``layer`` and ``slot`` are nullable integers (pandas ``Int64``; null in Parquet, an empty cell in
the CSV copies) where no layer (label-only baselines) or no slot (scene-level targets) applies.
Tables written before that used -1, which the reader turns into null. The probe engine and the
report keep -1 internally: :func:`sentinel_indices` gives that view, :func:`nullable_indices`
the tidy one.

In memory, :func:`load_run` and :func:`write_tables` also give a derived ``control`` column (the
version-1 union of role and baseline) for code written against version 1.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from probekit.errors import BadOptionError, FileFormatError
from probekit.formats.atomic import atomic_path
from probekit.formats.damage import guard_path_reader, guard_reader

#: The ``format`` value of a run manifest, the schema version written, and the versions read.
RUN_FORMAT = "probekit.run"
RUN_SCHEMA_VERSION = 2
READABLE_RUN_VERSIONS = (1, 2)

#: A store's role in a run: an encoder under test, or a baseline store standing for a control.
ROLES = ("encoder", "random_twin", "pixels", "shuffled", "planted", "labels")
#: The store label of the label-only baselines (nuisance, geometry, ceiling fitted on labels).
LABEL_STORE = "labels"
#: Integer columns that may have no value (no layer, no slot): nullable on disk and in the public
#: tables, :data:`NO_INDEX` inside the engine.
INDEX_COLUMNS = ("layer", "slot")
#: The engine's value for "no layer" / "no slot".
NO_INDEX = -1


def nullable_indices(frame: pd.DataFrame) -> pd.DataFrame:
    """``layer`` and ``slot`` as pandas ``Int64``, null where none applies (negative or missing).

    Parameters
    ----------
    frame
        A run table (results, selection, comparisons, gains); columns it lacks are left out.

    Returns
    -------
    pandas.DataFrame
        A copy with tidy index columns.
    """
    frame = frame.copy()
    for column in INDEX_COLUMNS:
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce")
            frame[column] = values.where(values >= 0).astype("Int64")
    return frame


def sentinel_indices(frame: pd.DataFrame) -> pd.DataFrame:
    """``layer`` and ``slot`` as plain integers with :data:`NO_INDEX` for none (the engine's view).

    Parameters
    ----------
    frame
        A run table, tidy (nullable) or not.

    Returns
    -------
    pandas.DataFrame
        The frame itself when its index columns are plain integers already, else a copy whose
        index columns are ``int`` (null and missing -> -1).
    """
    present = [c for c in INDEX_COLUMNS if c in frame.columns]
    if all(pd.api.types.is_integer_dtype(frame[c].dtype) and not isinstance(frame[c].dtype, pd.api.extensions.ExtensionDtype)
           for c in present):
        return frame
    frame = frame.copy()
    for column in INDEX_COLUMNS:
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(NO_INDEX).astype(int)
    return frame


#: Version-1 ``control`` values that mark a store's own scores, by role.
STORE_CONTROLS = ("none", "random_init", "pixels", "shuffled")
_CONTROL_OF_ROLE = {"encoder": "none", "planted": "none", "labels": "none", "random_twin": "random_init",
                    "pixels": "pixels", "shuffled": "shuffled"}
_ROLE_OF_CONTROL = {"none": "encoder", "random_init": "random_twin", "pixels": "pixels", "shuffled": "shuffled"}

#: Columns of the results table on disk (version 2), in order.
RESULT_COLUMNS = [
    "store", "store_hash", "role", "encoder", "weights", "layer", "target", "slot", "readout", "baseline", "scenario",
    "metric", "score", "ci_low", "ci_high", "fold_scores", "n", "n_families", "unit", "is_selected", "note",
]
#: Columns of a version-1 results table (read and converted).
V1_RESULT_COLUMNS = [
    "store", "store_hash", "encoder", "weights", "layer", "target", "slot", "readout", "control", "scenario", "metric",
    "score", "ci_low", "ci_high", "fold_scores", "n", "n_families", "unit", "note",
]
SELECTION_COLUMNS = [
    "store", "store_hash", "target", "slot", "choice", "readout", "layer", "per_fold", "inner_score", "metric", "score",
    "ci_low", "ci_high", "n", "n_families",
]
#: Columns of ``gains.csv`` (conditional gains; see docs/formats.md).
GAIN_COLUMNS = [
    "store", "role", "versus", "target", "slot", "readout", "baseline", "metric", "gain", "ci_low", "ci_high",
    "joint_score", "baseline_score", "joint_balanced_accuracy", "baseline_balanced_accuracy", "layers", "baseline_models",
    "n", "n_families", "families_per_scenario", "note",
]
COMPARISON_COLUMNS = ["target", "slot", "readout", "metric", "a", "b", "delta", "ci_low", "ci_high", "n", "higher_is_better"]


def store_role(control: str, encoder: str = "", store: str | None = None, weights: str = "") -> str:
    """The role of a store from the control it stands for (``evaluation.inputs.control_of``).

    Parameters
    ----------
    control
        ``none``, ``random_init``, ``pixels`` or ``shuffled``.
    encoder
        The store's encoder name; planted-signal and planted-failure stores (``probekit.testing``)
        are ``planted``.
    store
        The store label; :data:`LABEL_STORE` (``labels@<n>steps`` per time grid) is the
        label-only baselines' pseudo-store; an empty label (a row not tied to one store, such as
        a target skipped for every store) has no role (``""``).
    weights
        The store's weights name (``planted`` marks a planted store too).
    """
    if store == LABEL_STORE or str(store).startswith(f"{LABEL_STORE}@"):
        return "labels"
    if store == "":
        return ""
    role = _ROLE_OF_CONTROL.get(str(control), "encoder")
    if role == "encoder" and (str(encoder).startswith(("planted", "failure-")) or str(weights) == "planted"):
        return "planted"
    return role


def _atomic_write(path: Path, write) -> None:
    with atomic_path(path) as tmp:
        write(tmp)


def versions() -> dict[str, str]:
    """Versions of the libraries that shape the numbers."""
    import sklearn

    out = {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__}
    try:
        import torch

        out["torch"] = torch.__version__
    except ImportError:  # pragma: no cover
        out["torch"] = ""
    return out


def write_manifest(out: Path, manifest: dict[str, Any], complete: bool) -> None:
    """Write ``manifest.json`` atomically, ``complete`` only once everything else is written."""
    data = {**manifest, "complete": bool(complete)}
    _atomic_write(Path(out) / "manifest.json", lambda p: Path(p).write_text(json.dumps(data, indent=2, sort_keys=True, default=str)))


def base_manifest(inputs, suite, folds: int, seed: int, out: Path | None = None) -> dict[str, Any]:
    """Manifest fields known before fitting (store paths relative to the run directory ``out``)."""
    from probekit import __version__

    return {
        "format": RUN_FORMAT,
        "schema_version": RUN_SCHEMA_VERSION,
        "probekit_version": __version__,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "inputs": [
            {
                "path": os.path.relpath(os.path.abspath(item.path), os.path.abspath(out)) if out is not None else str(item.path),
                "label": item.label, "store_hash": item.hash, "encoder": item.attrs.get("encoder", ""),
                "init": item.attrs.get("init", ""), "weights": item.attrs.get("weights", ""), "weight_hash": item.attrs.get("weight_hash", ""),
                "layers": item.store.layers, "control": item.control,
                "role": store_role(item.control, str(item.attrs.get("encoder", "")), item.label, str(item.attrs.get("weights", ""))),
            }
            for item in inputs
        ],
        "suite": suite.raw,
        "suite_effective": {"name": suite.name, "targets": suite.targets, "readouts": suite.readouts, "controls": suite.controls, "n_boot": suite.n_boot},
        "folds": folds,
        "seed": seed,
        "versions": versions(),
        "stages": ["probe"],
    }


def _as_list(value: Any) -> list[float]:
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else []
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [math.nan if v is None else float(v) for v in value]


def _mark_selected(results: pd.DataFrame, selection: pd.DataFrame) -> pd.Series:
    """True on a store's own rows at the layer inner CV chose for (target, slot, readout)."""
    if selection.empty or results.empty:
        return pd.Series(False, index=results.index)
    results, selection = sentinel_indices(results), sentinel_indices(selection)
    layers = selection[selection["choice"].astype(str) == "layer"]
    chosen = pd.MultiIndex.from_arrays([layers["store"].astype(str), layers["target"].astype(str), layers["slot"].astype(int),
                                        layers["readout"].astype(str), layers["layer"].astype(int)])
    rows = pd.MultiIndex.from_arrays([results["store"].astype(str), results["target"].astype(str), results["slot"].astype(int),
                                      results["readout"].astype(str), results["layer"].astype(int)])
    return pd.Series(rows.isin(chosen) & (results["baseline"].astype(str) == "none").to_numpy(), index=results.index)


def with_derived_control(results: pd.DataFrame) -> pd.DataFrame:
    """Add the version-1 ``control`` column (a store's role on its own rows, else the baseline)."""
    results = results.copy()
    own = results["role"].map(_CONTROL_OF_ROLE).fillna("none")
    results["control"] = np.where(results["baseline"] == "none", own, results["baseline"])
    return results


def tidy_results(rows: list[dict], selection: list[dict], roles: dict[str, str]) -> pd.DataFrame:
    """The version-2 results table of a probe run (on-disk columns, in order).

    Parameters
    ----------
    rows
        Result rows of the probe engine (with its version-1 ``control`` value).
    selection
        Selection rows (``choice`` layer/readout).
    roles
        Role of each store label (:func:`store_role`).
    """
    raw = pd.DataFrame(rows, columns=V1_RESULT_COLUMNS)
    control = raw["control"].astype(str)
    raw["baseline"] = np.where(control.isin(STORE_CONTROLS), "none", control)
    raw["role"] = [roles.get(str(s), store_role(c if c in STORE_CONTROLS else "none", e, str(s)))
                   for s, c, e in zip(raw["store"], control, raw["encoder"].astype(str))]
    raw["fold_scores"] = raw["fold_scores"].map(_as_list)
    raw = raw.astype({"layer": int, "slot": int, "n": int, "n_families": int, "score": float, "ci_low": float, "ci_high": float})
    raw["is_selected"] = _mark_selected(raw, pd.DataFrame(selection, columns=SELECTION_COLUMNS))
    order = ["store", "target", "slot", "readout", "baseline", "layer", "scenario", "metric"]
    return nullable_indices(raw[RESULT_COLUMNS].sort_values(order, kind="stable").reset_index(drop=True))


def write_tables(out: Path, rows: list[dict], selection: list[dict], comparisons: list[dict],
                 gains: list[dict] | None = None, roles: dict[str, str] | None = None) -> pd.DataFrame:
    """Write results (Parquet + CSV), selection.csv, comparisons.csv and gains.csv atomically.

    Returns
    -------
    pandas.DataFrame
        The results table as :func:`load_run` gives it (version-2 columns plus the derived
        ``control``).
    """
    out = Path(out)
    results = tidy_results(rows, selection, roles or {})
    selection = sorted(selection, key=lambda r: (r["store"], r["target"], r["slot"], r["choice"], r["readout"]))
    comparisons = sorted(comparisons, key=lambda r: (r["target"], r["slot"], r["readout"], r["a"], r["b"]))
    flat = results.assign(fold_scores=results["fold_scores"].map(lambda v: json.dumps([None if math.isnan(x) else x for x in v])))
    _atomic_write(out / "results.parquet", lambda p: results.to_parquet(p, index=False))
    _atomic_write(out / "results.csv", lambda p: flat.to_csv(p, index=False))
    _atomic_write(out / "selection.csv", lambda p: nullable_indices(pd.DataFrame(selection, columns=SELECTION_COLUMNS)).to_csv(p, index=False))
    _atomic_write(out / "comparisons.csv", lambda p: nullable_indices(pd.DataFrame(comparisons, columns=COMPARISON_COLUMNS)).to_csv(p, index=False))
    if gains is not None:
        table = pd.DataFrame(gains, columns=GAIN_COLUMNS).sort_values(["target", "slot", "readout", "baseline", "store", "versus"], kind="stable")
        _atomic_write(out / "gains.csv", lambda p: nullable_indices(table).to_csv(p, index=False))
    return with_derived_control(results)


#: Sub-folder of a run directory that holds one table per stage.
STAGE_TABLE_DIR = "tables"
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def stage_table_path(run_dir: str | os.PathLike, stage: str, suffix: str = ".parquet") -> Path:
    """Path of ``stage``'s table inside ``run_dir``."""
    if not _STAGE_NAME.match(stage):
        raise ValueError(f"stage name {stage!r}: use lower-case letters, digits and underscores")
    return Path(run_dir) / STAGE_TABLE_DIR / f"{stage}{suffix}"


def write_stage_table(run_dir: str | os.PathLike, stage: str, table: pd.DataFrame) -> Path:
    """Write one stage's tidy table atomically (Parquet, plus a CSV copy for people).

    Parameters
    ----------
    run_dir
        The run directory (exists).
    stage
        The stage's registered name.
    table
        The table; list-valued cells stay lists in Parquet and become JSON text in the CSV.

    Returns
    -------
    pathlib.Path
        The Parquet file.
    """
    parquet = stage_table_path(run_dir, stage)
    parquet.parent.mkdir(parents=True, exist_ok=True)
    table = table.reset_index(drop=True)
    with atomic_path(parquet) as tmp:
        table.to_parquet(tmp, index=False)
    flat = table.copy()
    for column in flat.columns:
        if flat[column].map(lambda v: isinstance(v, (list, tuple, dict))).any():
            flat[column] = flat[column].map(lambda v: json.dumps(list(v) if isinstance(v, tuple) else v, default=float))
    with atomic_path(stage_table_path(run_dir, stage, ".csv")) as tmp:
        flat.to_csv(tmp, index=False)
    return parquet


def add_stage_to_run(run_dir: str | os.PathLike, stage: str, table: pd.DataFrame, details: dict[str, Any] | None = None) -> Path:
    """Add (or replace) a stage's table in a finished run and list the stage in its manifest.

    For stages run after ``probekit probe`` on the run's result (``probekit attribute``, the demo's
    surprise on its violation-of-expectation set): the table is written first, then the
    manifest, both atomically.

    Parameters
    ----------
    run_dir
        A complete run directory.
    stage
        The stage's name.
    table
        Its tidy table.
    details
        Manifest entry ``manifest[stage]`` describing how the table was made (optional).

    Returns
    -------
    pathlib.Path
        The Parquet file.
    """
    from probekit.formats.atomic import atomic_write

    path = write_stage_table(run_dir, stage, table)
    manifest = read_manifest(Path(run_dir))
    manifest["stages"] = [s for s in manifest.get("stages", ["probe"]) if s != stage] + [stage]
    manifest.get("stage_skips", {}).pop(stage, None)
    if details is not None:
        manifest[stage] = details
    atomic_write(Path(run_dir) / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True, default=str))
    return path


def read_stage_table(run_dir: str | os.PathLike, stage: str) -> pd.DataFrame:
    """Read ``stage``'s table from a run directory.

    Raises
    ------
    FileFormatError
        The run has no table for ``stage``.
    """
    parquet = stage_table_path(run_dir, stage)
    if parquet.is_file():
        try:
            return pd.read_parquet(parquet)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds for a damaged file
            raise FileFormatError(f"{parquet}: not a readable Parquet table ({exc.__class__.__name__}); re-run `probekit probe`") from None
    raise FileFormatError(f"{run_dir}: no {stage} table ({parquet.relative_to(Path(run_dir))}); run `probekit probe --stages {stage}`")


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

    def engine_view(self) -> "Run":
        """The same run with ``layer`` and ``slot`` as plain integers, -1 for none.

        probekit's own report, summary and attribution code work on this view; the tables a user
        reads (:attr:`results` and the others) keep nullable integers.
        """
        return Run(path=self.path, manifest=self.manifest, results=sentinel_indices(self.results),
                   selection=sentinel_indices(self.selection), comparisons=sentinel_indices(self.comparisons),
                   gains=sentinel_indices(self.gains))

    @property
    def stores(self) -> list[str]:
        """Labels of the probed stores: the manifest's inputs first, in order, then any other store
        with its own scores in the table (not the label-only baselines)."""
        own = self.results[(self.results["baseline"] == "none") & (self.results["role"] != "labels") & self.results["score"].notna()]
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
    if version not in READABLE_RUN_VERSIONS:
        readable = " and ".join(str(v) for v in READABLE_RUN_VERSIONS)
        raise FileFormatError(
            f"{path}: {RUN_FORMAT} schema version {version} found, this probekit reads versions "
            f"{readable}; re-run `probekit probe` with this probekit"
        )
    if manifest.get("complete") is not True:
        raise FileFormatError(f"{path}: the run is incomplete (its probe run did not finish); resume or re-run `probekit probe`")
    return manifest


def as_run(run: Any, what: str) -> Any:
    """A run given as a loaded run or as the path of a run directory (loaded here).

    Parameters
    ----------
    run
        A :class:`Run` (anything with ``results``, ``selection`` and ``gains`` tables) or a path.
    what
        The function asking, for the message.

    Raises
    ------
    BadOptionError
        ``run`` is neither.
    """
    if isinstance(run, (str, os.PathLike)):
        return load_run(run)
    if all(hasattr(run, name) for name in ("results", "selection", "gains")):
        return run
    raise BadOptionError(f"{what}: got {type(run).__name__}; give a run (probekit.load_run(path)) or a run directory's path")


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
    >>> run.results.query("baseline == 'none' and metric == 'r2'").pivot_table(
    ...     index="target", columns="store", values="score", aggfunc="max")
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
    version = manifest.get("schema_version")
    expected = RESULT_COLUMNS if version == RUN_SCHEMA_VERSION else V1_RESULT_COLUMNS
    optional = ("fold_scores", "note", "store_hash", "is_selected")
    missing = [c for c in expected if c not in results.columns and c not in optional]
    if missing:
        raise FileFormatError(
            f"{path}: the results table (schema version {version}) lacks columns {missing}; "
            "re-run `probekit probe` with this probekit")
    selection = _read_optional_csv(path / "selection.csv")
    if version == 1:
        results = _from_version_1(results, manifest, selection)
    results = with_derived_control(_normalise_results(results))
    return Run(
        path=path,
        manifest=manifest,
        results=results,
        selection=selection,
        comparisons=_read_optional_csv(path / "comparisons.csv"),
        gains=_read_optional_csv(path / "gains.csv"),
    )


def _from_version_1(results: pd.DataFrame, manifest: dict[str, Any], selection: pd.DataFrame) -> pd.DataFrame:
    """A version-1 table in version-2 columns: ``control`` split into ``role`` and ``baseline``."""
    results = results.copy()
    control = results["control"].fillna("none").astype(str)
    store = results["store"].fillna("").astype(str)
    encoder = results["encoder"].fillna("").astype(str)
    # a store's own rows carry the control it stands for; the manifest fills in stores without any
    own_control = dict(zip(store[control.isin(STORE_CONTROLS)], control[control.isin(STORE_CONTROLS)]))
    encoder_of = {s: e for s, e in zip(store, encoder) if e}
    for entry in manifest.get("inputs", []):
        label = str(entry.get("label", ""))
        own_control.setdefault(label, str(entry.get("control", "none")))
        encoder_of.setdefault(label, str(entry.get("encoder", "")))
    results["baseline"] = np.where(control.isin(STORE_CONTROLS), "none", control)
    results["role"] = [store_role(own_control.get(s, "none"), encoder_of.get(s, ""), s) for s in store]
    results = results.drop(columns=["control"])
    for column in ("layer", "slot"):
        results[column] = pd.to_numeric(results[column], errors="coerce").fillna(-1).astype(int)
    results["is_selected"] = _mark_selected(results, selection)
    return results


def _normalise_results(results: pd.DataFrame) -> pd.DataFrame:
    results = nullable_indices(results)
    for column in ("score", "ci_low", "ci_high"):
        results[column] = pd.to_numeric(results[column], errors="coerce").astype(float)
    for column in ("store", "role", "encoder", "weights", "target", "readout", "baseline", "scenario", "metric", "unit"):
        results[column] = results[column].astype(object).where(results[column].notna(), "").astype(str)
    for column, default in (("note", ""), ("store_hash", "")):
        if column not in results.columns:
            results[column] = default
        results[column] = results[column].astype(object).where(results[column].notna(), default).astype(str)
    if "fold_scores" not in results.columns:
        results["fold_scores"] = [[] for _ in range(len(results))]
    results["fold_scores"] = results["fold_scores"].map(_as_list)
    if "is_selected" not in results.columns:
        results["is_selected"] = False
    results["is_selected"] = results["is_selected"].map(lambda v: str(v).strip().lower() in ("true", "1"))
    return results


def _read_optional_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame()
    return nullable_indices(pd.read_csv(path, keep_default_na=False, na_values=[""]))


guard_reader(Run)  # damaged tables read as one FileFormatError line
