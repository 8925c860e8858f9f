"""``probekit demo [--out DIR]``: the whole pipeline on the embedded default, offline, on CPU."""

from __future__ import annotations

from pathlib import Path

import typer

#: Shown under the command's help.
EXAMPLES = (
    'probekit demo --out reports/demo',
    'probekit demo --quick --out reports/quick',
)


def demo(
    out: Path = typer.Option(Path("reports/demo"), "--out", help="Folder for the world file, stores, run directory and report."),
    quick: bool = typer.Option(False, "--quick", help="Smaller sizes (fewer clips, 3 folds): about half the time."),
    seed: int = typer.Option(0, "--seed", help="Seed of the worlds, random weights, folds and bootstraps."),
    threads: int = typer.Option(2, "--threads", help="CPU cores to use: torch threads of extraction, worker processes of probing and its stages."),
) -> None:
    """Generate a small world set, extract it with the embedded encoders, probe, and write the report.

    Runs offline on CPU (under 10 minutes on 2 cores) and prints where the report is.
    """
    from probekit.demo import DemoSizes, run_demo

    from probekit.cli.options import DemoOptions
    from probekit.progress import echo
    from probekit.validation import validate_options

    validate_options(DemoOptions, "demo", seed=seed, threads=threads)
    result = run_demo(out, sizes=DemoSizes.quick() if quick else DemoSizes(), seed=seed, threads=threads,
                      log=echo)
    timings = ", ".join(f"{name} {value:.0f} s" for name, value in result.seconds.items())
    typer.echo(f"demo: done ({timings})", err=True)
    typer.echo(f"report: {result.report.resolve()}")
