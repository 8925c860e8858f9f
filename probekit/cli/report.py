"""``probekit report RUN_DIR --out reports/NAME.html``: one self-contained HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


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
    from probekit.errors import BadOptionError
    from probekit.report.build import write_report
    from probekit.report.diagnosis import Thresholds

    if not 0 <= min_gain < 1:
        raise BadOptionError(f"--min-gain {min_gain}: give a margin in [0, 1), e.g. 0.05")
    target = out if out is not None else Path("reports") / f"{run_dir.resolve().name}.html"
    written = write_report(run_dir, target, overwrite=overwrite, umap_target=umap_target,
                           thresholds=Thresholds(min_gain=min_gain), seed=seed)
    typer.echo(f"report written to {written}")
