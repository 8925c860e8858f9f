"""``probekit merge SHARD... --out STORE``: one store over shard stores (HDF5 virtual datasets)."""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer

#: Shown under the command's help.
EXAMPLES = (
    'torchrun --nproc_per_node=2 -m probekit extract tiny-vjepa2 --data worlds.h5 --out latents/tiny.h5',
    'probekit merge latents/tiny.rank0-of2.h5 latents/tiny.rank1-of2.h5 --out latents/tiny.h5',
)


def merge(
    shards: List[Path] = typer.Argument(..., help="Shard stores in rank order (e.g. latents.rank0-of2.h5 ...)."),
    out: Path = typer.Option(..., "--out", help="Merged store to write; the shards must stay beside it."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out."),
) -> None:
    """Present the shards written by torchrun ranks as one latent store."""
    from probekit.extraction.merge import merge_stores
    from probekit.formats.ownership import owned_output

    with owned_output(out, [("shard", shard) for shard in shards]):
        merged = merge_stores(shards, out, overwrite=overwrite)
    typer.echo(str(merged))
