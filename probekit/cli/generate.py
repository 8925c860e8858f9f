"""``probekit generate``: write a world file of physics clips with exact ground truth."""

from __future__ import annotations

from pathlib import Path

import typer


def generate(
    out: Path = typer.Option(..., "--out", help="Output world file (.h5), written atomically."),
    clips: int = typer.Option(64, "--clips", help="Number of families (original clips); twins are added."),
    seed: int = typer.Option(0, "--seed", help="Run seed (per-clip seeds derive from it)."),
    scenarios: str = typer.Option(
        "drop,ramp,roll,collide,occlude,stack", "--scenarios", help="Comma-separated scenario names."
    ),
    frames: int = typer.Option(16, "--frames", help="Frames per clip."),
    size: int = typer.Option(64, "--size", help="Image side in pixels."),
    fps: float = typer.Option(15.0, "--fps", help="Frames per second."),
    violations: str = typer.Option(
        "", "--violations", help="Comma-separated violation twins: permanence,solidity,gravity,immutability,continuity."
    ),
    counterfactuals: bool = typer.Option(
        False, "--counterfactuals", help="Add one nuisance and one physics counterfactual per family."
    ),
    workers: int = typer.Option(1, "--workers", help="Worker processes (same file for any value)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output file."),
) -> None:
    """Simulate physics clips (pybullet) and write videos plus per-frame, per-object ground truth."""
    from probekit.bounds import check_world_bounds
    from probekit.cli.options import GenerateOptions
    from probekit.formats.ownership import owned_output
    from probekit.validation import validate_options
    from probekit.worlds import generate_world

    validate_options(GenerateOptions, "generate", clips=clips, seed=seed, frames=frames, size=size, fps=fps, workers=workers)
    twins = len({v.strip() for v in violations.split(",") if v.strip()}) + (2 if counterfactuals else 0)
    check_world_bounds(out, clips=clips, frames=frames, size=size, twins_per_family=twins, workers=workers)
    with owned_output(out):
        path = generate_world(
            out, clips=clips, seed=seed, scenarios=scenarios, frames=frames, size=size, fps=fps,
            violations=violations, counterfactuals=counterfactuals, workers=workers, overwrite=overwrite,
        )
    typer.echo(f"wrote {path}")
