"""``tiny-vjepa2``: the V-JEPA 2 architecture at a size a laptop CPU runs in seconds per batch.

The shipped weights (``probekit/encoders/weights/tiny-vjepa2.safetensors``, trained by ``probekit
train`` on probekit's worlds; model card beside them) are loaded by default; with
``init="random"`` (or without the file) the weights are seeded random, and seed 0 gives exactly
the weights the training started from (the random twin). The store records which (``weights`` =
``trained`` or ``random``).

``weights_path`` points at other weights, such as ``DIR/model/model.safetensors`` of a ``probekit
train`` run. When a ``config.json`` lies beside them (every ``probekit train`` export has one),
its architecture is used instead of :data:`TINY_VJEPA2_CONFIG`, so recipes that vary the width,
depth or predictor load too; with ``init="random"`` the same architecture gets seeded random
weights, which for the recipe's ``optimization.seed`` are the weights that run started from.
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


def build_tiny_vjepa2(seed: int = 0, config: Any = None) -> torch.nn.Module:
    """A ``VJEPA2Model`` with seeded random weights.

    Parameters
    ----------
    seed
        ``torch.manual_seed`` before construction; ``probekit train`` seeds the same way, so the
        recipe's ``optimization.seed`` gives the weights its training started from.
    config
        A transformers ``VJEPA2Config``; default :data:`TINY_VJEPA2_CONFIG`.
    """
    from transformers import VJEPA2Config, VJEPA2Model

    torch.manual_seed(seed)
    return VJEPA2Model(config if config is not None else VJEPA2Config(**TINY_VJEPA2_CONFIG)).eval()


def tiny_vjepa2_processor(crop_size: int = TINY_VJEPA2_CONFIG["crop_size"]) -> Any:
    """The V-JEPA 2 video processor at ``crop_size`` px: no up-scaling first, centre crop, ImageNet normalisation."""
    from transformers import VJEPA2VideoProcessor

    processor = VJEPA2VideoProcessor(crop_size=crop_size)
    processor.size = {"shortest_edge": crop_size}
    return processor


def architecture_beside(weights_path: str | Path | None) -> Any:
    """The ``VJEPA2Config`` in ``config.json`` beside ``weights_path``, or None when there is none.

    Raises
    ------
    BadOptionError
        When that ``config.json`` is not a V-JEPA 2 configuration.
    """
    if weights_path is None:
        return None
    config_file = Path(weights_path).parent / "config.json"
    if not config_file.is_file():
        return None
    from transformers import VJEPA2Config

    try:
        config = VJEPA2Config.from_json_file(str(config_file))
    except (OSError, ValueError, TypeError) as exc:
        raise BadOptionError(f"{config_file}: not a readable V-JEPA 2 config ({str(exc).splitlines()[0]}); remove it or re-export the model") from None
    if getattr(config, "model_type", None) != "vjepa2":
        raise BadOptionError(f"{config_file}: model_type {getattr(config, 'model_type', None)!r}, not 'vjepa2'; tiny-vjepa2 loads V-JEPA 2 weights only")
    return config


def differs_from_tiny(config: Any) -> list[str]:
    """Architecture fields in which ``config`` differs from :data:`TINY_VJEPA2_CONFIG` (empty when equal)."""
    from transformers import VJEPA2Config

    tiny = VJEPA2Config(**TINY_VJEPA2_CONFIG)
    fields = sorted(set(TINY_VJEPA2_CONFIG) | {"mlp_ratio", "pred_mlp_ratio", "in_chans", "qkv_bias", "hidden_act",
                                                  "layer_norm_eps", "num_pooler_layers", "pred_zero_init_mask_tokens"})
    return [f"{key} {getattr(config, key, None)} (tiny-vjepa2: {getattr(tiny, key)})"
            for key in fields if getattr(config, key, None) != getattr(tiny, key)]


def require_tiny_architecture(config: Any, what: str, fix: str) -> None:
    """Raise :class:`BadOptionError` naming ``what`` and ``fix`` unless ``config`` is tiny-vjepa2's architecture.

    Only that architecture can become ``tiny-vjepa2``'s default weights.
    """
    differences = differs_from_tiny(config)
    if differences:
        raise BadOptionError(f"{what}: not the tiny-vjepa2 architecture ({'; '.join(differences)}); only that one ships as "
                             f"tiny-vjepa2's default; {fix}")


def create_tiny_vjepa2(
    name: str = "tiny-vjepa2", init: str = "pretrained", *, seed: int = 0, weights_path: str | Path | None = None, **_: Any
) -> Encoder:
    """Factory of ``tiny-vjepa2`` (see the module docstring)."""
    from probekit.encoders.hf import HFVideoEncoder

    path = Path(weights_path) if weights_path else TINY_VJEPA2_WEIGHTS
    config = architecture_beside(weights_path)
    model = build_tiny_vjepa2(seed, config)
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
    crop_size = config.crop_size if config is not None else TINY_VJEPA2_CONFIG["crop_size"]
    encoder = HFVideoEncoder(name, model, tiny_vjepa2_processor(crop_size), init=init, seed=seed)
    encoder.weights = "trained" if trained else "random"
    encoder.extra_attrs["weights_file"] = str(path) if trained else ""
    if config is not None and differs_from_tiny(config):
        encoder.extra_attrs["architecture"] = str(path.parent / "config.json")
    if not trained:
        encoder.extra_attrs["seed"] = seed
    return encoder
