"""``probekit info FILE``: a readable summary of any probekit file."""

from __future__ import annotations

from pathlib import Path

import typer

#: Shown under the command's help.
EXAMPLES = ("probekit info worlds.h5", "probekit info latents/tiny.h5", "probekit info runs/x", "probekit info runs/x --json")


def info(
    path: Path = typer.Argument(..., help="A world file, latent store or run directory."),
    as_json: bool = typer.Option(False, "--json", help="Run directories: print the raw manifest.json instead."),
) -> None:
    """Print a readable summary of a probekit file (world file, latent store or run directory).

    A run directory is summarised by its stores with their roles, targets, stages, the headline
    of its diagnosis (as the report states it) and where its report is.
    """
    from probekit.summary import describe

    if as_json:
        from probekit.errors import BadOptionError
        from probekit.summary import read_manifest_text

        if not path.is_dir():
            raise BadOptionError(f"--json: {path} is not a run directory; --json prints a run's manifest.json")
        typer.echo(read_manifest_text(path))
        return
    typer.echo(describe(path))
