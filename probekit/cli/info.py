"""``probekit info FILE``: a readable summary of any probekit file."""

from __future__ import annotations

from pathlib import Path

import typer


def info(path: Path = typer.Argument(..., help="A world file, latent store or run directory.")) -> None:
    """Print a readable summary of a probekit file (world file, latent store or run directory)."""
    from probekit.summary import describe

    typer.echo(describe(path))
