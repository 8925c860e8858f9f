"""Stages of ``probekit probe``: each reads the run's inputs and adds one table to the run.

The probes are the first stage (they write ``results.parquet``); every other stage (slot binding,
structure metrics, surprise, ...) registers itself here with :func:`register_stage` and writes
``tables/<name>.parquet`` through :func:`probekit.formats.run.write_stage_table`. A stage that
cannot run on the given stores (no full tokens, no twins, no masks) raises :class:`StageSkipped`
with the reason; the run records it and goes on.

To add a stage: write one module in this package that defines ``run(context) -> DataFrame`` and
calls ``register_stage(Stage(...))`` at import, add it to ``BUILTIN_STAGE_MODULES``, and add its
report section under :mod:`probekit.report.sections`. Independent pieces of a stage (one fit per
store x layer, one clustering per clip) go through :meth:`StageContext.map`, which runs them on
the run's ``--jobs`` workers or ``--scheduler`` cluster and returns them in order.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from probekit.errors import BadOptionError

#: Modules imported on first use of the registry; each registers its stages.
BUILTIN_STAGE_MODULES: tuple[str, ...] = ("probekit.stages.binding", "probekit.stages.structure", "probekit.stages.surprise",
                                           "probekit.stages.physion_ocp", "probekit.stages.voe_heldout")
#: The name of the probe stage (always first; run by :func:`probekit.evaluation.run_probe`).
PROBE_STAGE = "probe"


class StageSkipped(Exception):
    """A stage cannot run on these inputs; the message says why (one line)."""


@dataclass
class StageContext:
    """What a stage gets.

    Attributes
    ----------
    inputs
        The opened stores (``probekit.evaluation.inputs.StoreInput``: ``.store``, ``.label``,
        ``.control``, ``.attrs``, ``.path``), in the order given.
    out
        The run directory.
    seed, folds
        The run's seed and number of outer folds (family-grouped).
    params
        The suite's ``[stages.<name>]`` table (empty when absent).
    probe_results
        The probe stage's results table when it ran first, else None.
    log
        Progress callback (one line per call).
    executor
        Where independent pieces of a stage run (:mod:`probekit.evaluation.executors`: this
        process, joblib workers for ``--jobs``, a dask cluster for ``--scheduler``); None runs
        them here. Use it through :meth:`map`.
    """

    inputs: list[Any]
    out: Path
    seed: int = 0
    folds: int = 5
    params: dict[str, Any] = field(default_factory=dict)
    probe_results: pd.DataFrame | None = None
    log: Callable[[str], None] = lambda line: None
    executor: Any = None

    def map(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """``[fn(item) for item in items]`` in order, run by the context's executor.

        ``fn`` and the items must pickle (a module-level function, e.g. under
        :func:`functools.partial`, over arrays and plain values, never an open store) when the
        executor has workers; the results equal a serial run's.
        """
        if self.executor is None or len(items) < 2:
            return [fn(item) for item in items]
        return self.executor.map(fn, items)


@dataclass(frozen=True)
class Stage:
    """A registered stage.

    Attributes
    ----------
    name
        Registry key and table name (lower case, digits, underscores).
    title
        Human title (report section heading).
    run
        ``run(context) -> DataFrame``: the stage's tidy table.
    needs
        What the stage reads from a store, for the user's information (``"tokens"``,
        ``"object"``, ``"pairs"``, ``"surprise"``, ...).
    description
        One sentence for ``--help`` and docs.
    params_model
        Optional pydantic model the suite loader checks ``[stages.<name>]`` against.
    """

    name: str
    title: str
    run: Callable[[StageContext], pd.DataFrame]
    needs: tuple[str, ...] = ()
    description: str = ""
    params_model: Any = None


_STAGES: dict[str, Stage] = {}
_loaded = False


def register_stage(stage: Stage) -> Stage:
    """Add ``stage`` to the registry (a later registration of the same name replaces it)."""
    if stage.name == PROBE_STAGE:
        raise ValueError(f"{PROBE_STAGE!r} is the built-in probe stage; choose another name")
    _STAGES[stage.name] = stage
    return stage


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_STAGE_MODULES:
            importlib.import_module(module)


def stage_names() -> list[str]:
    """All stage names: ``probe`` first, then the registered stages in registration order."""
    _load_builtins()
    return [PROBE_STAGE, *_STAGES]


def get_stage(name: str) -> Stage:
    """The registered stage ``name``.

    Raises
    ------
    BadOptionError
        Unknown name (the message lists the valid ones).
    """
    _load_builtins()
    if name not in _STAGES:
        raise BadOptionError(f"unknown stage {name!r}; valid stages: {', '.join(stage_names())}")
    return _STAGES[name]


__all__ = ["PROBE_STAGE", "Stage", "StageContext", "StageSkipped", "get_stage", "register_stage", "stage_names"]
