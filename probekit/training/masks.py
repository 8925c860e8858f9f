"""Spatio-temporal masks for JEPA training: which tokens the context sees, which are predicted.

Tokens are indexed in VJEPA2's flattening order: ``t * (H' * W') + h * W' + w``.
All functions take a :class:`torch.Generator` so masks are reproducible.
"""

from __future__ import annotations

import math

import torch


def multiblock_mask(
    grid: tuple[int, int, int],
    *,
    n_blocks: int,
    scale: float,
    aspect_ratio: tuple[float, float],
    generator: torch.Generator,
    max_coverage: float = 0.9,
) -> torch.Tensor:
    """A V-JEPA-style multi-block target mask: spatial blocks repeated over all time steps.

    Parameters
    ----------
    grid
        Token grid (T', H', W').
    n_blocks
        Number of rectangular blocks whose union is the target.
    scale
        Fraction of the spatial grid each block covers.
    aspect_ratio
        Range (min, max) of block height / width, sampled log-uniformly.
    generator
        Random source.
    max_coverage
        Masks whose blocks cover more of the grid than this are drawn again (up to 20 times,
        then the first block alone is kept), so that the context is never empty.

    Returns
    -------
    torch.Tensor
        Boolean (T', H', W') tensor, True where a token is a prediction target.
    """
    t, h, w = grid
    for _attempt in range(20):
        spatial = _union_of_blocks(h, w, n_blocks, scale, aspect_ratio, generator)
        if spatial.float().mean() <= max_coverage:
            break
    else:
        spatial = _union_of_blocks(h, w, 1, scale, aspect_ratio, generator)
    return spatial.unsqueeze(0).expand(t, h, w).clone()


def _union_of_blocks(
    h: int, w: int, n_blocks: int, scale: float, aspect_ratio: tuple[float, float], generator: torch.Generator
) -> torch.Tensor:
    spatial = torch.zeros(h, w, dtype=torch.bool)
    for _ in range(n_blocks):
        log_lo, log_hi = math.log(aspect_ratio[0]), math.log(aspect_ratio[1])
        ratio = math.exp(log_lo + (log_hi - log_lo) * torch.rand((), generator=generator).item())
        area = scale * h * w
        bh = max(1, min(h, round(math.sqrt(area * ratio))))
        bw = max(1, min(w, round(math.sqrt(area / ratio))))
        top = int(torch.randint(0, h - bh + 1, (), generator=generator))
        left = int(torch.randint(0, w - bw + 1, (), generator=generator))
        spatial[top : top + bh, left : left + bw] = True
    return spatial


def future_mask(grid: tuple[int, int, int], *, context_steps: int) -> torch.Tensor:
    """Target = every token after the first ``context_steps`` time steps (predict the future)."""
    t, h, w = grid
    if not 0 < context_steps < t:
        raise ValueError(f"context_steps must be in 1..{t - 1}, got {context_steps}")
    mask = torch.zeros(t, h, w, dtype=torch.bool)
    mask[context_steps:] = True
    return mask


def batch_indices(target_masks: list[torch.Tensor], generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn per-clip boolean target masks into equal-length index tensors for a batch.

    Context = complement of target. Clips keep the smallest count across the batch of each
    (a random subset, as V-JEPA's collator does), so the batch stacks.

    Returns
    -------
    context, target : torch.Tensor
        Long tensors (B, n_context) and (B, n_target) of sorted token indices.
    """
    flat = [m.flatten() for m in target_masks]
    n_target = min(int(m.sum()) for m in flat)
    n_context = min(int((~m).sum()) for m in flat)
    if n_target == 0 or n_context == 0:
        raise ValueError("a mask left no context or no target tokens; lower the mask scale")
    contexts, targets = [], []
    for m in flat:
        tgt = torch.nonzero(m).squeeze(1)
        ctx = torch.nonzero(~m).squeeze(1)
        tgt = tgt[torch.randperm(len(tgt), generator=generator)[:n_target]].sort().values
        ctx = ctx[torch.randperm(len(ctx), generator=generator)[:n_context]].sort().values
        contexts.append(ctx)
        targets.append(tgt)
    return torch.stack(contexts), torch.stack(targets)
