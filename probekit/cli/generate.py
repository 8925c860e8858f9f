"""``probekit generate``: write a world file of physics clips with exact ground truth."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

#: Shown under the command's help.
EXAMPLES = (
    'probekit generate --out worlds.h5 --clips 64 --seed 0',
    'probekit generate --out voe.h5 --voe',
    'probekit generate --out cf.h5 --clips 32 --counterfactuals --violations permanence,solidity --workers 2',
)

DEFAULT_CLIPS = 64
DEFAULT_SCENARIOS = "drop,ramp,roll,collide,occlude,stack"


def generate(
    out: Path = typer.Option(..., "--out", help="Output world file (.h5), written atomically."),
    clips: Optional[int] = typer.Option(None, "--clips", help="Number of families (original clips); twins are added. [default: 64; 180 with --voe]"),
    seed: int = typer.Option(0, "--seed", help="Run seed (per-clip seeds derive from it)."),
    scenarios: Optional[str] = typer.Option(None, "--scenarios", help=f"Comma-separated scenario names. [default: {DEFAULT_SCENARIOS}]"),
    frames: int = typer.Option(16, "--frames", help="Frames per clip."),
    size: int = typer.Option(64, "--size", help="Image side in pixels."),
    fps: float = typer.Option(15.0, "--fps", help="Frames per second."),
    violations: Optional[str] = typer.Option(
        None, "--violations", help="Comma-separated violation twins: permanence,solidity,gravity,immutability,continuity."
    ),
    voe: bool = typer.Option(
        False, "--voe", help="Violation-of-expectation set: occlude,collide,drop with all five twins; 180 families = 60 pairs per principle."
    ),
    counterfactuals: bool = typer.Option(
        False, "--counterfactuals", help="Add one nuisance and one physics counterfactual per family."
    ),
    near_miss: bool = typer.Option(
        True, "--near-miss/--no-near-miss", help="Add a near-miss twin (no contact, gap >= 2 px) to collide and stack families."
    ),
    report_confounds: bool = typer.Option(
        False, "--report-confounds",
        help="After writing, print per target what nuisance alone predicts and what a ground-truth ceiling reaches.",
    ),
    workers: int = typer.Option(1, "--workers", help="Worker processes (same file for any value)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output file."),
) -> None:
    """Simulate physics clips (pybullet) and write videos plus per-frame, per-object ground truth."""
    from probekit.bounds import check_world_bounds
    from probekit.cli.options import GenerateOptions
    from probekit.errors import BadOptionError
    from probekit.formats.ownership import owned_output
    from probekit.validation import validate_options
    from probekit.worlds import VOE_PRESET, generate_world

    if voe:
        given = [flag for flag, value in (("--scenarios", scenarios), ("--violations", violations)) if value is not None]
        if given:
            raise BadOptionError(f"--voe sets {' and '.join(given)}; drop {'them' if len(given) > 1 else 'it'} or drop --voe")
        scenarios, violations = VOE_PRESET["scenarios"], VOE_PRESET["violations"]
        clips = VOE_PRESET["clips"] if clips is None else clips
    clips = DEFAULT_CLIPS if clips is None else clips
    scenarios = DEFAULT_SCENARIOS if scenarios is None else scenarios
    violations = "" if violations is None else violations

    validate_options(GenerateOptions, "generate", clips=clips, seed=seed, frames=frames, size=size, fps=fps, workers=workers)
    twins = len({v.strip() for v in violations.split(",") if v.strip()}) + (2 if counterfactuals else 0) + (1 if near_miss else 0)
    check_world_bounds(out, clips=clips, frames=frames, size=size, twins_per_family=twins, workers=workers)
    started = time.perf_counter()
    with owned_output(out):
        path = generate_world(
            out, clips=clips, seed=seed, scenarios=scenarios, frames=frames, size=size, fps=fps,
            violations=violations, counterfactuals=counterfactuals, near_miss=near_miss, workers=workers,
            overwrite=overwrite,
        )
    typer.echo(f"wrote {path}")
    from probekit.data import WorldFile
    from probekit.progress import summary_line

    with WorldFile(path) as world:
        n_clips = world.n_clips
    typer.echo(summary_line("generate", time.perf_counter() - started, count=n_clips, unit="clips", written=[path])
               + f" ({clips} families, seed {seed})", err=True)
    if report_confounds:
        from probekit.worlds.confounds import confound_table, format_table

        typer.echo(format_table(confound_table(path)))
