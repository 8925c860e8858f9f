"""``tiny-vjepa2``: the V-JEPA 2 architecture at a size a laptop CPU runs in seconds per batch.

The shipped weights (``probekit/encoders/weights/tiny-vjepa2.safetensors``, trained by ``probekit
train`` on probekit's worlds; model card beside them) are loaded by default; with
``init="random"`` (or without the file) the weights are seeded random, and seed 0 gives exactly
the weights the training started from (the random twin). The store records which (``weights`` =
``trained`` or ``random``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from probekit.encoders.base import Encoder
from probekit.errors import BadOptionError

#: Architecture of tiny-vjepa2 (transformers ``VJEPA2Config`` keyword arguments).
TINY_VJEPA2_CONFIG: dict[str, Any] = {
    "hidden_size": 128,
    "num_hidden_layers": 6,
    "num_attention_heads": 4,
    "mlp_ratio": 4.0,
    "crop_size": 64,
    "frames_per_clip": 16,
    "patch_size": 8,
    "tubelet_size": 2,
    "pred_hidden_size": 64,
    "pred_num_hidden_layers": 2,
    "pred_num_attention_heads": 4,
    "pred_num_mask_tokens": 10,
}

#: Where trained weights are looked for.
TINY_VJEPA2_WEIGHTS = Path(__file__).resolve().parent / "weights" / "tiny-vjepa2.safetensors"


def build_tiny_vjepa2(seed: int = 0) -> torch.nn.Module:
    """A ``VJEPA2Model`` with :data:`TINY_VJEPA2_CONFIG` and seeded random weights."""
    from transformers import VJEPA2Config, VJEPA2Model

    torch.manual_seed(seed)
    return VJEPA2Model(VJEPA2Config(**TINY_VJEPA2_CONFIG)).eval()


def tiny_vjepa2_processor() -> Any:
    """The V-JEPA 2 video processor at 64 px: no resize of 64-px frames, centre crop 64, ImageNet normalisation."""
    from transformers import VJEPA2VideoProcessor

    processor = VJEPA2VideoProcessor(crop_size=TINY_VJEPA2_CONFIG["crop_size"])
    processor.size = {"shortest_edge": TINY_VJEPA2_CONFIG["crop_size"]}
    return processor


def create_tiny_vjepa2(
    name: str = "tiny-vjepa2", init: str = "pretrained", *, seed: int = 0, weights_path: str | Path | None = None, **_: Any
) -> Encoder:
    """Factory of ``tiny-vjepa2`` (see the module docstring)."""
    from probekit.encoders.hf import HFVideoEncoder

    model = build_tiny_vjepa2(seed)
    path = Path(weights_path) if weights_path else TINY_VJEPA2_WEIGHTS
    trained = False
    if init == "pretrained" and path.exists():
        from safetensors.torch import load_file

        try:
            model.load_state_dict(load_file(str(path)), strict=True)
        except (RuntimeError, OSError) as exc:
            raise BadOptionError(f"tiny-vjepa2 weights {path}: cannot be loaded ({str(exc).splitlines()[0]}); retrain or remove them") from None
        trained = True
    elif weights_path is not None and init == "pretrained":
        raise BadOptionError(f"--weights {path}: no such file")
    encoder = HFVideoEncoder(name, model, tiny_vjepa2_processor(), init=init, seed=seed)
    encoder.weights = "trained" if trained else "random"
    encoder.extra_attrs["weights_file"] = str(path) if trained else ""
    if not trained:
        encoder.extra_attrs["seed"] = seed
    return encoder
