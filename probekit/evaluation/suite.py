"""Probe suites: TOML files (top-level ``probes/``) naming targets, readouts and controls."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probekit.errors import BadOptionError
from probekit.evaluation.targets import CATALOG, get_target
from probekit.probes.registry import get_readout
from probekit.shipped import find_suite_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

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


def load_suite(name_or_path: str | os.PathLike | None) -> Suite:
    """Read and check a suite TOML."""
    path = find_suite(name_or_path)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BadOptionError(f"--suite {path}: not valid TOML ({exc})") from None
    head = raw.get("suite", {})
    suite = Suite(
        name=str(head.get("name", path.stem)),
        targets=list(head.get("targets", list(CATALOG))),
        readouts=list(head.get("readouts", ["linear", "object"])),
        controls=list(head.get("controls", list(CONTROLS))),
        folds=int(head.get("folds", 5)),
        seed=int(head.get("seed", 0)),
        n_boot=int(head.get("n_boot", 1000)),
        layers=dict(head.get("layers", {})),
        ceiling_readouts=list(head.get("ceiling", {}).get("readouts", ["linear"])),
        control_task_binary=bool(head.get("control_task_binary", True)),
        params={k: dict(v) for k, v in raw.get("readouts", {}).items()},
        stages=list(head.get("stages", ["probe"])),
        stage_params={k: dict(v) for k, v in raw.get("stages", {}).items()},
        raw=raw,
    )
    for name in suite.targets:
        get_target(name)
    for name in suite.readouts + suite.ceiling_readouts:
        get_readout(name)
    check_stages(suite.stages, f"--suite {path}")
    for name in suite.controls:
        if name not in CONTROLS:
            raise BadOptionError(f"--suite {path}: unknown control {name!r}; valid controls: {', '.join(CONTROLS)}")
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
