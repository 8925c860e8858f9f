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
    from probekit.worlds import generate_world

    path = generate_world(
        out, clips=clips, seed=seed, scenarios=scenarios, frames=frames, size=size, fps=fps,
        violations=violations, counterfactuals=counterfactuals, near_miss=near_miss, workers=workers,
        overwrite=overwrite,
    )
    typer.echo(f"wrote {path}")
    if report_confounds:
        from probekit.worlds.confounds import confound_table, format_table

        typer.echo(format_table(confound_table(path)))
