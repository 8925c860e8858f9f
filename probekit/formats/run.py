"""Run directory: stage tables beside the probe results (see docs/formats.md, "Run directory").

Each stage other than the probes writes one tidy table, ``tables/<stage>.parquet`` with a CSV
copy beside it, through :func:`write_stage_table`; :func:`read_stage_table` reads it back.
Lists inside cells are kept as lists in Parquet (JSON text in the CSV copy).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd

from probekit.errors import FileFormatError
from probekit.formats.atomic import atomic_path

#: Sub-folder of a run directory that holds one table per stage.
STAGE_TABLE_DIR = "tables"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def stage_table_path(run_dir: str | os.PathLike, stage: str, suffix: str = ".parquet") -> Path:
    """Path of ``stage``'s table inside ``run_dir``."""
    if not _NAME.match(stage):
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
