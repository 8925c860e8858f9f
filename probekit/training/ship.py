"""Ship a trained model as the package's ``tiny-vjepa2`` weights (safetensors + model card)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from probekit.errors import BadOptionError

#: Size limit of shipped weights.
MAX_SHIPPED_BYTES = 20 * 2**20


def ship_model(model_dir: str | os.PathLike, weights_file: str | os.PathLike | None = None) -> Path:
    """Copy ``model_dir/model.safetensors`` (and its model card) to where ``tiny-vjepa2`` looks.

    Parameters
    ----------
    model_dir
        A folder written by :func:`probekit.training.loop.export_pretrained`.
    weights_file
        Destination; defaults to ``probekit/encoders/weights/tiny-vjepa2.safetensors``.

    Returns
    -------
    Path
        The written weights file; the model card lies beside it as ``tiny-vjepa2.md``.
    """
    from probekit.encoders.tiny import TINY_VJEPA2_WEIGHTS

    source = Path(model_dir) / "model.safetensors"
    if not source.exists():
        raise BadOptionError(f"{model_dir}: no model.safetensors; train first with probekit train")
    if source.stat().st_size > MAX_SHIPPED_BYTES:
        raise BadOptionError(f"{source}: {source.stat().st_size / 2**20:.1f} MiB exceeds the 20 MiB limit for shipped weights")
    target = Path(weights_file) if weights_file else TINY_VJEPA2_WEIGHTS
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.partial")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    card = Path(model_dir) / "README.md"
    if card.exists():
        shutil.copyfile(card, target.with_suffix(".md"))
    return target
