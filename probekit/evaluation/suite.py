"""Probe suites: TOML files (top-level ``probes/``) naming targets, readouts and controls."""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, Field, Strict, create_model

from probekit.errors import BadOptionError
from probekit.evaluation.targets import CATALOG, get_target
from probekit.probes.registry import READOUTS, get_readout
from probekit.shipped import find_suite_file
from probekit.validation import Bool, FiniteFloat, Seed, Str, StrictModel, did_you_mean, read_toml, validate

#: The built-in controls, in the order a suite lists them by default.
CONTROLS = ("nuisance", "geometry", "control_task", "ceiling")
DEFAULT_SUITE = "physics"


@dataclass
class Suite:
    """A parsed probe suite (see ``probes/physics.toml``)."""

    name: str
    targets: list[str]
    readouts: list[str]
    controls: list[str]
    folds: int = 5
    seed: int = 0
    n_boot: int = 1000
    layers: dict[str, Any] = field(default_factory=dict)
    ceiling_readouts: list[str] = field(default_factory=lambda: ["linear"])
    control_task_binary: bool = True
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: list[str] = field(default_factory=lambda: ["probe"])
    stage_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def find_suite(name_or_path: str | os.PathLike | None) -> Path:
    """Resolve ``--suite``: a path, or the name of a shipped suite (default ``physics``)."""
    return find_suite_file(DEFAULT_SUITE if name_or_path is None else name_or_path)


class _CeilingTable(StrictModel):
    readouts: list[Str] = Field(default_factory=lambda: ["linear"])


_LayerChoice = Union[Literal["all", "last"], list[Annotated[int, Strict()]]]


class _SuiteTable(StrictModel):
    """The ``[suite]`` table."""

    name: Optional[Str] = None
    targets: Optional[list[Str]] = Field(default=None, min_length=1)
    readouts: list[Str] = Field(default_factory=lambda: ["linear", "object"], min_length=1)
    controls: list[Str] = Field(default_factory=lambda: list(CONTROLS))
    folds: Annotated[int, Strict(), Field(ge=2, le=1000)] = 5
    seed: Seed = 0
    n_boot: Annotated[int, Strict(), Field(ge=1, le=1_000_000)] = 1000
    layers: dict[str, _LayerChoice] = Field(default_factory=dict)
    ceiling: _CeilingTable = Field(default_factory=_CeilingTable)
    control_task_binary: Bool = True
    stages: list[Str] = Field(default_factory=lambda: ["probe"])


class _SuiteFile(StrictModel):
    """A whole suite file: ``[suite]``, ``[readouts.<name>]`` and ``[stages.<name>]`` tables."""

    suite: _SuiteTable = Field(default_factory=_SuiteTable)
    readouts: dict[str, dict[str, Any]] = Field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = Field(default_factory=dict)


_PositiveList = Annotated[list[Annotated[FiniteFloat, Field(gt=0)]], Field(min_length=1)]


class LinearReadoutParams(StrictModel):
    """``[readouts.linear]`` / ``[readouts.object]``: the inner-CV grids of ridge and logistic probes."""

    alphas: Optional[_PositiveList] = None
    Cs: Optional[_PositiveList] = None


def readout_params_model(name: str) -> type[BaseModel]:
    """The declared model of a readout's ``[readouts.<name>]`` table.

    A readout may declare ``params_model`` itself; fast (linear) readouts take the ridge and
    logistic grids; the others take their estimators' constructor arguments, typed by their
    defaults (numbers finite and positive where the default is, ``random_state`` excluded: the
    suite's seed sets it); a number may also be given as a list, a grid whose combinations are
    each fitted and chosen by the estimator's inner score).
    """
    readout = get_readout(name)
    declared = getattr(readout, "params_model", None)
    if declared is not None:
        return declared
    if readout.fast:
        return LinearReadoutParams
    fields: dict[str, Any] = {}
    for factory in (readout.regressor, readout.classifier):
        for parameter in inspect.signature(factory).parameters.values():
            if parameter.name in fields or parameter.name in ("self", "random_state") or parameter.kind is parameter.VAR_KEYWORD:
                continue
            default = parameter.default
            if isinstance(default, bool):
                kind: Any = Bool
            elif isinstance(default, int):
                kind = Annotated[int, Strict(), Field(ge=0 if default == 0 else 1)]
            elif isinstance(default, float):
                kind = Annotated[FiniteFloat, Field(ge=0)]
            elif isinstance(default, str):
                kind = Str
            else:
                continue
            if not isinstance(default, (bool, str)):  # numbers may also be a list: a grid chosen by inner CV
                kind = Union[kind, Annotated[list[kind], Field(min_length=1)]]
            fields[parameter.name] = (Optional[kind], None)
    return create_model(f"{name.title()}ReadoutParams", __base__=StrictModel, **fields)


def _check_tables(raw: dict[str, Any], path: Path) -> _SuiteFile:
    where = f"--suite {path}"
    parsed = validate(_SuiteFile, raw, where)
    for name, params in parsed.readouts.items():
        try:
            model = readout_params_model(name)
        except BadOptionError:
            raise BadOptionError(f"{where}: [readouts.{name}]: unknown readout{did_you_mean(name, READOUTS)}; "
                                 f"valid readouts: {', '.join(READOUTS)}") from None
        validate(model, params, where, name_of=lambda loc, name=name: f"readouts.{name}." + ".".join(map(str, loc)))
    from probekit.stages import get_stage

    for name, params in parsed.stages.items():
        try:
            stage = get_stage(name)
        except BadOptionError as exc:
            raise BadOptionError(f"{where}: [stages.{name}]: {' '.join(str(exc).split())}") from None
        model = getattr(stage, "params_model", None)
        if model is not None:
            validate(model, params, where, name_of=lambda loc, name=name: f"stages.{name}." + ".".join(map(str, loc)))
    return parsed


def load_suite(name_or_path: str | os.PathLike | None) -> Suite:
    """Read and check a suite TOML against its declared model (one line naming key and file)."""
    path = find_suite(name_or_path)
    raw = read_toml(path, "--suite")
    parsed = _check_tables(raw, path)
    head = parsed.suite
    suite = Suite(
        name=head.name if head.name is not None else path.stem,
        targets=list(head.targets) if head.targets is not None else list(CATALOG),
        readouts=list(head.readouts),
        controls=list(head.controls),
        folds=head.folds,
        seed=head.seed,
        n_boot=head.n_boot,
        layers=dict(head.layers),
        ceiling_readouts=list(head.ceiling.readouts),
        control_task_binary=head.control_task_binary,
        params={k: dict(v) for k, v in parsed.readouts.items()},
        stages=list(head.stages),
        stage_params={k: dict(v) for k, v in parsed.stages.items()},
        raw=raw,
    )
    where = f"--suite {path}"
    for name in suite.targets:
        if name not in CATALOG:
            raise BadOptionError(f"{where}: suite.targets: unknown target {name!r}{did_you_mean(name, CATALOG)}")
        get_target(name)
    for name in suite.readouts + suite.ceiling_readouts:
        if name not in READOUTS:
            raise BadOptionError(f"{where}: unknown readout {name!r}{did_you_mean(name, READOUTS)}; "
                                 f"valid readouts: {', '.join(READOUTS)}")
    for name in suite.layers:
        if name not in READOUTS:
            raise BadOptionError(f"{where}: suite.layers: unknown readout {name!r}{did_you_mean(name, READOUTS)}")
    check_stages(suite.stages, where)
    from probekit.evaluation.controls import control_names

    valid = control_names()
    for name in suite.controls:
        if name not in valid:
            raise BadOptionError(f"{where}: unknown control {name!r}{did_you_mean(name, valid)}; "
                                 f"valid controls: {', '.join(valid)}")
    return suite


def check_stages(names: list[str], where: str) -> list[str]:
    """Check stage names against the registry; ``probe`` may be left out but is always run first."""
    from probekit.stages import get_stage, PROBE_STAGE

    for name in names:
        if name != PROBE_STAGE:
            try:
                get_stage(name)
            except BadOptionError as exc:
                raise BadOptionError(f"{where}: {exc}") from None
    return names
