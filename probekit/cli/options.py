"""The commands' options as declared models: types and ranges, checked before any work starts.

Each command validates its options with :func:`probekit.validation.validate_options`; a bad
value is one line naming the option (``generate: --fps inf: must be a finite number``).
"""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field

from probekit.validation import FiniteFloat, PositiveInt, Seed, StrictModel

def comma_list(value: Optional[str]) -> Optional[list[str]]:
    """A comma-list option: None when it was left out, its non-empty items otherwise (``[]`` for ``""``)."""
    return None if value is None else [item.strip() for item in value.split(",") if item.strip()]


#: Most CPU threads any command accepts.
MAX_THREADS = 1024
#: Most bootstrap replicates (each costs a resample of every score).
MAX_BOOT = 1_000_000
#: Most outer folds.
MAX_FOLDS = 1000

Threads = Annotated[int, Field(ge=1, le=MAX_THREADS, strict=True)]
Folds = Annotated[int, Field(ge=2, le=MAX_FOLDS, strict=True)]
Boot = Annotated[int, Field(ge=1, le=MAX_BOOT, strict=True)]


class GenerateOptions(StrictModel):
    """``probekit generate``."""

    clips: PositiveInt = 64
    seed: Seed = 0
    frames: Annotated[int, Field(ge=1, le=100_000, strict=True)] = 16
    size: Annotated[int, Field(ge=1, le=4096, strict=True)] = 64
    fps: Annotated[FiniteFloat, Field(gt=0, le=10_000)] = 15.0
    workers: Annotated[int, Field(ge=1, le=MAX_THREADS, strict=True)] = 1


class ProbeOptions(StrictModel):
    """``probekit probe``."""

    folds: Optional[Folds] = None
    seed: Optional[Seed] = None
    n_boot: Optional[Boot] = None
    threads: Threads = 1
    jobs: Threads = 1


class TrainOptions(StrictModel):
    """``probekit train``."""

    steps: Optional[PositiveInt] = None
    stop_after: Optional[PositiveInt] = None


class EvaluateOptions(StrictModel):
    """``probekit evaluate``."""

    clips: PositiveInt = 256
    seed: Seed = 3000
    twin_seed: Optional[Seed] = None
    folds: Folds = 5
    n_boot: Boot = 1000
    threads: Threads = 2
    voe_clips: Annotated[int, Field(ge=0, le=100_000)] = 180


class ReportOptions(StrictModel):
    """``probekit report``."""

    min_gain: Annotated[FiniteFloat, Field(ge=0, lt=1)] = 0.05
    seed: Seed = 0


class DemoOptions(StrictModel):
    """``probekit demo``."""

    seed: Seed = 0
    threads: Threads = 2
