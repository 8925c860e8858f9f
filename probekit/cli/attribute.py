"""``probekit attribute RUN --data worlds.h5``: attribution maps of a run's linear probes (captum)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

#: Shown under the command's help.
EXAMPLES = (
    'probekit attribute runs/x --data worlds.h5 --targets contact --method ig,saliency --clips 8',
)


def attribute(
    run_dir: Path = typer.Argument(..., help="A run directory written by `probekit probe --out DIR`."),
    data: Path = typer.Option(..., "--data", help="The world file the run's stores were extracted from (masks and frames)."),
    targets: str = typer.Option("contact,velocity", "--targets", help="Comma list of per-step targets to explain."),
    slots: str = typer.Option("0", "--slots", help="Comma list of object slots."),
    method: str = typer.Option("ig", "--method", help="Comma list of ig, saliency, smoothgrad, occlusion, ablation."),
    clips: int = typer.Option(16, "--clips", help="Clips explained per store, target and slot."),
    baseline: str = typer.Option("black", "--baseline", help="black frames, or static (the first frame repeated: isolates motion)."),
    stores: Optional[str] = typer.Option(None, "--stores", help="Comma list of the run's store labels (default: every store on disk)."),
    readout: str = typer.Option("linear", "--readout", help="linear (pooled tokens) or object (the slot's mask-pooled tokens)."),
    layer: Optional[int] = typer.Option(None, "--layer", help="Layer to explain (default: the layer the run's inner CV chose)."),
    tolerance: float = typer.Option(0.0, "--tolerance", help="Pointing-game tolerance in encoder-input pixels."),
    sanity_clips: int = typer.Option(2, "--sanity-clips", help="Clips that get the cascading randomisation test (0: none)."),
    n_steps: int = typer.Option(32, "--n-steps", help="Integrated-gradients steps."),
    device: str = typer.Option("cpu", "--device", help="Torch device: cpu, cuda, cuda:N or auto (cuda, then mps, then cpu)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the clip choice, SmoothGrad noise and bootstraps."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress lines."),
) -> None:
    """Explain a run's probes with captum and add attribution maps and scores to the run.

    Each clip is explained by the probe of the outer fold that held its family out, composed with the encoder up to the
    probe's layer (the encoder is re-run: the store's weights must be available). Example:
    probekit attribute runs/x --data worlds.h5 --targets contact --method ig,saliency --clips 8
    """
    from probekit.attribution import AttributeConfig, run_attribute
    from probekit.cli.options import comma_list
    from probekit.errors import BadOptionError

    try:
        slot_list = [int(s) for s in comma_list(slots) or []]
    except ValueError:
        raise BadOptionError(f"--slots {slots!r}: give a comma list of slot indices such as 0,1") from None
    config = AttributeConfig(
        run=run_dir, data=data, targets=comma_list(targets) or [], slots=slot_list, methods=comma_list(method) or [], clips=clips,
        baseline=baseline, stores=comma_list(stores) or None, readout=readout, layer=layer, tolerance=tolerance, sanity_clips=sanity_clips,
        device=device, n_steps=n_steps, seed=seed,
    )
    from probekit.progress import echo, summary_line

    log = None if quiet else echo
    started = time.perf_counter()
    written = run_attribute(config, log=log)
    typer.echo(f"wrote {written} and the attribution table of {run_dir}")
    typer.echo(summary_line("attribute", time.perf_counter() - started, written=[written, Path(run_dir, "tables", "attribution.parquet")]),
               err=True)
