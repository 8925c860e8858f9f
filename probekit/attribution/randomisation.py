"""Model-parameter randomisation (Adebayo et al., 2018): re-initialise from the top layer down.

Each step of the cascade re-initialises one more transformer block, from the last one down to the
embeddings; the probe's weights are re-drawn first (``probe`` step). Parameters are reset with the
module's own ``reset_parameters`` where it has one (as Quantus' MPRT), otherwise drawn from a normal
distribution with the tensor's own standard deviation (biases and norms reset to their defaults).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from probekit.encoders.base import Encoder


def cascade_modules(encoder: Encoder) -> list[tuple[str, torch.nn.Module]]:
    """The encoder's blocks from the top down, then its embeddings: ``[(name, module), ...]``."""
    model = encoder.modules()[0] if encoder.modules() else None
    if model is None:
        return []
    blocks = None
    for path in ("encoder.layer", "encoder.layers", "vision_model.encoder.layers", "blocks"):
        node = model
        for part in path.split("."):
            node = getattr(node, part, None)
            if node is None:
                break
        if isinstance(node, torch.nn.ModuleList):
            blocks = node
            break
    out = []
    if blocks is not None:
        out = [(f"layer.{i}", blocks[i]) for i in range(len(blocks) - 1, -1, -1)]
    embeddings = getattr(getattr(model, "encoder", model), "embeddings", None) or getattr(model, "embeddings", None)
    if embeddings is not None:
        out.append(("embeddings", embeddings))
    return out


@torch.no_grad()
def reinitialise(module: torch.nn.Module, seed: int) -> None:
    """Re-draw every parameter of ``module`` in place (seeded).

    Sub-modules with ``reset_parameters`` use it; any other parameter (a learned positional
    embedding, a mask token) is drawn from a normal distribution with its own standard deviation.
    """
    torch.manual_seed(seed)
    covered: set[int] = set()
    for sub in module.modules():
        if callable(getattr(sub, "reset_parameters", None)):
            sub.reset_parameters()
            covered.update(id(p) for p in sub.parameters(recurse=False))
    generator = torch.Generator().manual_seed(seed + 1)
    for param in module.parameters():
        if id(param) in covered:
            continue
        std = float(param.detach().float().std()) if param.numel() > 1 else 0.0
        param.copy_(torch.randn(param.shape, generator=generator, dtype=torch.float32).to(param.dtype) * (std or 0.02))


def randomised_copies(encoder: Encoder, seed: int = 0):
    """Yield ``(step name, encoder copy)`` for each step of the cascade (each copy builds on the last)."""
    current = copy.deepcopy(encoder)
    for i, (name, _) in enumerate(cascade_modules(encoder)):
        modules = dict(cascade_modules(current))
        reinitialise(modules[name], seed + 1000 * (i + 1))
        yield name, current
        current = copy.deepcopy(current)


def random_probe(coef: np.ndarray, seed: int = 0) -> np.ndarray:
    """A probe of the same shape and norm with random direction."""
    rng = np.random.default_rng(seed)
    draw = rng.standard_normal(coef.shape)
    return draw * (np.linalg.norm(coef) / max(np.linalg.norm(draw), 1e-12))
