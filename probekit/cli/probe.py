"""``probekit probe``: probe latent stores for physics with honest evaluation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

#: Shown under the command's help.
EXAMPLES = (
    'probekit probe latents/tiny.h5 latents/twin.h5 latents/pixels.h5 --out runs/x',
    'probekit probe latents/tiny.h5 --out runs/q --suite quick --readouts linear,object --targets position_camera,contact',
)


def _given_list(value: Optional[str], option: str, unset: str) -> Optional[list[str]]:
    """:func:`probekit.cli.options.comma_list`, refusing an option given with no item (``unset``: what to do instead)."""
    from probekit.cli.options import comma_list

    items = comma_list(value)
    if items == []:
        from probekit.errors import BadOptionError

        raise BadOptionError(f"{option} {value!r}: empty; {unset}")
    return items


def probe(
    stores: List[Path] = typer.Argument(..., help="One or more latent stores (.h5) over the same clips."),
    out: Path = typer.Option(..., "--out", help="Run directory to write (re-running resumes from its probes/)."),
    suite: Optional[str] = typer.Option(None, "--suite", help="Suite: a TOML path or a shipped name (physics, quick, reference)."),
    readouts: Optional[str] = typer.Option(None, "--readouts", help="Comma list: linear,object,mlp,attentive."),
    targets: Optional[str] = typer.Option(None, "--targets", help="Comma list of targets."),
    folds: Optional[int] = typer.Option(None, "--folds", help="Outer folds (grouped by family)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of folds, bootstraps and torch probes."),
    attentive_layers: Optional[str] = typer.Option(None, "--attentive-layers", help="Layers for the attentive probe: all, last or a comma list."),
    mlp_layers: Optional[str] = typer.Option(None, "--mlp-layers", help="Layers for the MLP probe: all, last or a comma list."),
    n_boot: Optional[int] = typer.Option(None, "--n-boot", help="Bootstrap replicates for intervals."),
    stages: Optional[str] = typer.Option(None, "--stages", help="Comma list of stages to run after the probes."),
    threads: int = typer.Option(1, "--threads", help="BLAS/torch threads while fitting (1 is fastest for small stores)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a run directory that holds a run of other stores."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress lines."),
    jobs: int = typer.Option(1, "--jobs", help="Local worker processes for the fits (each with --threads threads); results equal --jobs 1."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="dask.distributed scheduler address (tcp://host:port) whose workers run the fits; needs probekit[dist]."),
    device: Optional[str] = typer.Option(None, "--device", help="Device of the MLP and attentive probes: auto, cpu, cuda or mps (default: the suite's, else cpu)."),
) -> None:
    """Probe latent stores: layer sweep x readouts x targets, grouped folds, intervals, controls."""
    from probekit.cli.options import ProbeOptions
    from probekit.errors import BadOptionError
    from probekit.evaluation import run_probe
    from probekit.formats.ownership import owned_output
    from probekit.validation import validate_options

    validate_options(ProbeOptions, "probe", folds=folds, seed=seed, n_boot=n_boot, threads=threads, jobs=jobs)

    readout_list = _given_list(readouts, "--readouts", "leave the option out for the suite's readouts, or name some: linear,object,mlp,attentive")
    target_list = _given_list(targets, "--targets", "leave the option out for the suite's targets, or name some such as speed,contact")
    stage_list = _given_list(stages, "--stages", "leave the option out for the suite's stages, or give --stages probe for the probes alone")
    layers: dict[str, object] = {}
    for name, value in (("attentive", attentive_layers), ("mlp", mlp_layers)):
        if value:
            if value in ("all", "last"):
                layers[name] = value
            else:
                try:
                    layers[name] = [int(v) for v in value.split(",")]
                except ValueError:
                    raise BadOptionError(f"--{name}-layers {value!r}: give all, last or a comma list of layer indices") from None
    from probekit.progress import echo

    log = None if quiet else echo
    started = time.perf_counter()
    with owned_output(out, [("STORE", store) for store in stores]):
        table = run_probe(
            stores, out, suite=suite, readouts=readout_list, targets=target_list, folds=folds, seed=seed, layers=layers,
            n_boot=n_boot, threads=threads, stages=stage_list, log=log, overwrite=overwrite, jobs=jobs, scheduler=scheduler, device=device,
        )
    typer.echo(f"wrote {out} ({len(table)} result rows)")
    typer.echo(probe_summary(out, time.perf_counter() - started), err=True)


def probe_summary(out: Path, seconds: float) -> str:
    """The end summary of a probe run: time, what was written, and the run's headline (the report's)."""
    from probekit.progress import summary_line
    from probekit.report.headline import headline_lines
    from probekit.rundir import STORE_CONTROLS, load_run

    run = load_run(out).engine_view()
    own = run.results[run.results["control"].isin(STORE_CONTROLS) & (run.results["layer"] >= 0)]
    fitted = len(own[["store", "layer"]].drop_duplicates())
    lines = [summary_line("probe", seconds, count=fitted, unit="store x layer", written=[out]),
             f"probe: stages {', '.join(run.stages)}; headline (readout and layer chosen by inner CV):"]
    lines += ["  " + line for line in headline_lines(run)]
    lines.append(f"probe: the full report: probekit report {out}")
    return "\n".join(lines)
