"""Encoders: a registry, one factory and adapters that return per-layer token grids.

>>> from probekit.encoders import create_encoder, list_encoders
>>> enc = create_encoder("tiny-vjepa2", init="random")                # doctest: +SKIP
>>> enc = create_encoder("hf:facebook/vjepa2-vitl-fpc64-256")         # doctest: +SKIP
>>> enc = create_encoder("timm:vit_small_patch14_dinov2.lvd142m")     # doctest: +SKIP
"""

from probekit.encoders.base import (
    Encoder,
    EncoderOutput,
    Geometry,
    TokenLayout,
    centre_crop_geometry,
    resolve_layers,
    tubelet_frames,
)
from probekit.encoders.module import ModuleEncoder
from probekit.encoders.registry import create_encoder, list_encoders, register_encoder

__all__ = [
    "Encoder",
    "EncoderOutput",
    "Geometry",
    "ModuleEncoder",
    "TokenLayout",
    "centre_crop_geometry",
    "create_encoder",
    "list_encoders",
    "register_encoder",
    "resolve_layers",
    "tubelet_frames",
]
