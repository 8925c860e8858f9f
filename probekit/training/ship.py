"""Ship a trained model as the package's ``tiny-vjepa2`` weights (safetensors + model card)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from probekit.errors import BadOptionError
from probekit.formats.atomic import atomic_write
from probekit.training.loop import file_sha256

#: Size limit of shipped weights.
MAX_SHIPPED_BYTES = 20 * 2**20


def ship_model(
    model_dir: str | os.PathLike,
    weights_file: str | os.PathLike | None = None,
    *,
    evaluation: str | os.PathLike | None = None,
) -> Path:
    """Copy ``model_dir/model.safetensors`` (and its model card) to where ``tiny-vjepa2`` looks.

    Parameters
    ----------
    model_dir
        A folder written by :func:`probekit.training.loop.export_pretrained`.
    weights_file
        Destination; defaults to ``probekit/encoders/weights/tiny-vjepa2.safetensors``.
    evaluation
        Folder of a ``probekit evaluate`` run of these weights: its ``evaluation.md`` is appended
        to the model card and its ``evaluation.json`` shipped beside the weights
        (``tiny-vjepa2.eval.json``), the figures a re-trained model is checked against.

    Returns
    -------
    Path
        The written weights file; the model card lies beside it as ``tiny-vjepa2.md``.
    """
    from probekit.encoders.tiny import TINY_VJEPA2_WEIGHTS

    source = Path(model_dir) / "model.safetensors"
    if not source.exists():
        raise BadOptionError(f"{model_dir}: no model.safetensors; train first with probekit train")
    check_architecture_ships(model_dir)
    if source.stat().st_size > MAX_SHIPPED_BYTES:
        raise BadOptionError(f"{source}: {source.stat().st_size / 2**20:.1f} MiB exceeds the 20 MiB limit for shipped weights")
    evaluation_json, evaluation_md = _evaluation_files(evaluation, source) if evaluation is not None else (None, "")
    target = Path(weights_file) if weights_file else TINY_VJEPA2_WEIGHTS
    target.parent.mkdir(parents=True, exist_ok=True)
    card = Path(model_dir) / "README.md"
    card_text = card.read_text(encoding="utf-8") if card.exists() else ""
    if evaluation_md:
        card_text = card_text.rstrip("\n") + "\n\n" + evaluation_md
    atomic_write(target, source.read_bytes())
    if card_text:
        atomic_write(target.with_suffix(".md"), card_text)
    if evaluation_json is not None:
        summary = json.loads(evaluation_json.read_text(encoding="utf-8"))
        summary["setup"]["weights"] = target.name
        atomic_write(target.with_suffix(".eval.json"), json.dumps(summary, indent=1) + "\n")
    return target


def check_architecture_ships(model_dir: str | os.PathLike) -> None:
    """Raise :class:`BadOptionError` unless the model folder holds the ``tiny-vjepa2`` architecture.

    Only that architecture can become ``tiny-vjepa2``'s default weights; a folder without a
    ``config.json`` is taken to be of it (loading checks the tensors strictly).
    """
    from probekit.encoders.tiny import architecture_beside, require_tiny_architecture

    config = architecture_beside(Path(model_dir) / "model.safetensors")
    if config is not None:
        require_tiny_architecture(config, str(model_dir),
                                  f"compare it with probekit evaluate --weights {model_dir}, extract it with --encoder hf:{model_dir}")


def _evaluation_files(evaluation: str | os.PathLike, weights: Path) -> tuple[Path, str]:
    """``evaluation.json`` and the markdown of an evaluation folder, checked to be of ``weights``."""
    folder = Path(evaluation)
    summary_path, markdown_path = folder / "evaluation.json", folder / "evaluation.md"
    if not summary_path.is_file() or not markdown_path.is_file():
        raise BadOptionError(f"{folder}: no evaluation.json / evaluation.md; run probekit evaluate --weights {weights.parent} --out {folder} first")
    setup = json.loads(summary_path.read_text(encoding="utf-8")).get("setup", {})
    if setup.get("weights_sha256") != file_sha256(weights):
        raise BadOptionError(f"{folder}: evaluates {setup.get('weights', 'other weights')}, not {weights}; evaluate the weights you ship")
    return summary_path, markdown_path.read_text(encoding="utf-8")
