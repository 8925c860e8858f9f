"""The explained function: a fitted linear probe composed with the encoder up to the probe's layer.

The function's input is the encoder's own preprocessed input (the processor's ``pixel_values``
for transformers models, the resized and cropped frames for ``pixels``), so the model's own
preprocessing applies and gradients are taken where the network sees the pixels. Attribution maps
are summed over colour channels and brought back to frame pixels by
:func:`probekit.attribution.geometry.to_frame_pixels`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from probekit.encoders.base import Encoder, EncoderOutput, TokenLayout
from probekit.errors import BadOptionError


def supports(encoder: Encoder) -> bool:
    """Whether attribution can differentiate through ``encoder``."""
    from probekit.encoders.hf import HFImageEncoder, HFVideoEncoder
    from probekit.encoders.pixels import PixelsEncoder

    return isinstance(encoder, (HFVideoEncoder, HFImageEncoder, PixelsEncoder))


def encoder_input(encoder: Encoder, video: np.ndarray) -> torch.Tensor:
    """The encoder's preprocessed input for uint8 clips ``(B, T, H, W, 3)`` -> float ``(B, T, C, h, w)``.

    Raises
    ------
    BadOptionError
        The encoder is not one attribution can differentiate through.
    """
    from probekit.encoders.hf import HFImageEncoder, HFVideoEncoder
    from probekit.encoders.pixels import PixelsEncoder

    b, t = video.shape[:2]
    if isinstance(encoder, HFVideoEncoder):
        return encoder.pixel_values(video).float()
    if isinstance(encoder, HFImageEncoder):
        frames = encoder.pixel_values(video.reshape(b * t, *video.shape[2:])).float()
        return frames.reshape(b, t, *frames.shape[1:])
    if isinstance(encoder, PixelsEncoder):
        geometry = encoder.geometry(video.shape[2], video.shape[3])
        x = torch.from_numpy(np.ascontiguousarray(video)).reshape(b * t, *video.shape[2:]).permute(0, 3, 1, 2).float() / 255.0
        if geometry.resized != tuple(video.shape[2:4]):
            x = F.interpolate(x, size=geometry.resized, mode="area")
        top, left, ch, cw = geometry.crop
        x = x[..., top : top + ch, left : left + cw]
        return x.reshape(b, t, *x.shape[1:])
    raise BadOptionError(
        f"attribute: encoder {encoder.name!r} ({type(encoder).__name__}) is not differentiable by probekit; "
        "attribution supports transformers video and image models, tiny-vjepa2 and pixels"
    )


class _BlockReached(Exception):
    """Raised by a forward hook once the block whose output is wanted has run (the rest is never computed)."""


def _hidden_state(model: torch.nn.Module, layer: int, forward: Callable[[], Any]) -> torch.Tensor:
    """``forward().hidden_states[layer]``, stopping after block ``layer - 1`` when the model's blocks are known.

    transformers' video encoders keep their blocks in ``model.encoder.layer`` and record hidden
    state ``k >= 1`` as block ``k - 1``'s output, so the blocks above the probed layer, which cannot
    change its tokens, need not run (nor be differentiated through). Other models run whole.
    """
    blocks = getattr(getattr(model, "encoder", None), "layer", None)
    if not isinstance(blocks, torch.nn.ModuleList) or not 1 <= layer < len(blocks):
        return forward().hidden_states[layer]
    caught: list[torch.Tensor] = []

    def stop(module: torch.nn.Module, args: Any, output: Any) -> None:
        caught.append(output[0] if isinstance(output, tuple) else output)
        raise _BlockReached

    handle = blocks[layer - 1].register_forward_hook(stop)
    try:
        output = forward()
    except _BlockReached:
        return caught[0]
    finally:
        handle.remove()
    return output.hidden_states[layer]


def layer_tokens(encoder: Encoder, pixels: torch.Tensor, layer: int, layout: TokenLayout) -> torch.Tensor:
    """Patch tokens ``(B, T', H', W', D)`` of ``layer`` for preprocessed input ``(B, T, C, h, w)``, with gradients."""
    from probekit.encoders.hf import HFImageEncoder, HFVideoEncoder
    from probekit.encoders.pixels import PixelsEncoder

    b, t = pixels.shape[:2]
    grid = layout.grid
    if isinstance(encoder, HFVideoEncoder):
        kwargs = {"output_hidden_states": True}
        if encoder.model.config.model_type == "vjepa2":
            kwargs["skip_predictor"] = True
        hidden = _hidden_state(encoder.model, layer, lambda: encoder.model(pixels, **kwargs))
        n_special = hidden.shape[1] - int(np.prod(grid))
        return hidden[:, n_special:].reshape(b, *grid, hidden.shape[-1])
    if isinstance(encoder, HFImageEncoder):
        out = encoder.model(pixel_values=pixels.reshape(b * t, *pixels.shape[2:]), output_hidden_states=True)
        return EncoderOutput.from_frame_sequences({layer: [out.hidden_states[layer]]}, b, t, grid[1:]).tokens[layer]
    if isinstance(encoder, PixelsEncoder):
        g, p = encoder.size // encoder.patch, encoder.patch
        x = pixels.reshape(b * t, 3, g, p, g, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, t, g, g, p * p * 3)
    raise BadOptionError(f"attribute: encoder {encoder.name!r} is not differentiable by probekit")


@dataclass
class LinearProbe:
    """A fitted linear readout: ``features @ coef.T + intercept``.

    Attributes
    ----------
    coef
        ``(m, D)`` (``m`` outputs; 1 for binary targets, whose output is the logit).
    intercept
        ``(m,)``.
    features
        ``"time"`` (the step's token mean) or ``"object"`` (the slot's coverage-weighted token mean).
    """

    coef: np.ndarray
    intercept: np.ndarray
    features: str


class ProbedEncoder(torch.nn.Module):
    """``probe(pool(encoder tokens at layer))`` at one token step, as a function of the encoder input.

    Parameters
    ----------
    encoder
        The encoder adapter (its modules are used as they are: frozen, in eval mode).
    layer
        The probe's layer index.
    probe
        The fitted probe.
    step
        The token step whose prediction is explained.
    layout
        The encoder's token layout for these clips.
    coverage
        ``(T', H', W')`` coverage of the slot's object, for ``object`` features.
    reduce
        How an ``m > 1`` output becomes one number: ``"norm"`` (the predicted vector's length).
    """

    def __init__(self, encoder: Encoder, layer: int, probe: LinearProbe, step: int, layout: TokenLayout,
                 coverage: np.ndarray | None = None, reduce: str = "norm") -> None:
        super().__init__()
        self.encoder, self.layer, self.step, self.layout, self.reduce = encoder, int(layer), int(step), layout, reduce
        self.register_buffer("coef", torch.as_tensor(np.asarray(probe.coef, dtype=np.float64)))
        self.register_buffer("intercept", torch.as_tensor(np.asarray(probe.intercept, dtype=np.float64)))
        self.features = probe.features
        if self.features == "object":
            if coverage is None:
                raise BadOptionError("attribute: object-token readouts need the slot's token coverage; extract with masks")
            self.register_buffer("weights", torch.as_tensor(np.asarray(coverage[self.step], dtype=np.float64)))

    def pooled(self, pixels: torch.Tensor) -> torch.Tensor:
        """The probe's input features ``(B, D)``."""
        tokens = layer_tokens(self.encoder, pixels, self.layer, self.layout)[:, self.step]  # (B, H', W', D)
        tokens = tokens.to(self.coef.dtype)
        if self.features == "object":
            w = self.weights.to(tokens.dtype)
            return torch.einsum("bhwd,hw->bd", tokens, w) / w.sum().clamp(min=1e-12)
        return tokens.mean(dim=(1, 2))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """One explained number per clip ``(B,)``: the logit (binary) or the prediction (its norm for vectors)."""
        out = self.pooled(pixels) @ self.coef.T + self.intercept
        if out.shape[1] == 1:
            return out[:, 0]
        return out.norm(dim=1)
