"""``probekit report RUN_DIR --out reports/NAME.html``: one self-contained HTML report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

#: Shown under the command's help.
EXAMPLES = (
    'probekit report runs/x --out reports/x.html',
)


def report(
    run_dir: Path = typer.Argument(..., help="A run directory written by `probekit probe --out DIR`."),
    out: Optional[Path] = typer.Option(None, "--out", help="HTML file to write (default: reports/<run name>.html)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the HTML file if it exists."),
    umap_target: Optional[str] = typer.Option(None, "--umap-target", help="Target that colours the UMAP (default: the first diagnosed target with a stored label)."),
    min_gain: float = typer.Option(0.05, "--min-gain", help="Least gain over a control (R², balanced accuracy, AUROC) for a readout to count as beating it."),
    seed: int = typer.Option(0, "--seed", help="Seed of the UMAP layout."),
) -> None:
    """Write one self-contained HTML report of a run directory (diagnosis, figures, provenance).

    Per target: the layer and readout chosen by inner CV, the score with its interval, its gain over the controls, and the pattern the evidence fits; layer-wise curves, a targets x layers heatmap, selectivity, a UMAP of pooled latents. Nothing is fetched when the file opens.
    """
    from probekit.cli.options import ReportOptions
    from probekit.formats.ownership import owned_output
    from probekit.report.build import write_report
    from probekit.report.diagnosis import Thresholds
    from probekit.validation import validate_options

    validate_options(ReportOptions, "report", min_gain=min_gain, seed=seed)
    target = out if out is not None else Path("reports") / f"{run_dir.resolve().name}.html"
    started = time.perf_counter()
    with owned_output(target, [("RUN_DIR", run_dir)], create_parent=True):
        written = write_report(run_dir, target, overwrite=overwrite, umap_target=umap_target,
                               thresholds=Thresholds(min_gain=min_gain), seed=seed, progress=True)
    typer.echo(f"report written to {written}")
    from probekit.progress import summary_line

    typer.echo(summary_line("report", time.perf_counter() - started, written=[written]), err=True)
