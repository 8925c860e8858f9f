"""Per-layer outputs kept in the store: ``mean``, ``time``, ``object``, a coarse spatial ``grid``
and full ``tokens``."""

from __future__ import annotations

import numpy as np
import torch

from probekit.errors import BadOptionError

#: Pool kinds accepted by ``--pool`` (``none`` is an alias of ``tokens``: no pooling).
POOL_KINDS = ("mean", "time", "object", "grid", "tokens")
DEFAULT_POOL = ("mean", "time", "object")
#: ``grid`` keeps at most this many cells per side: tokens are average-pooled to a
#: ``min(H', GRID_CELLS) x min(W', GRID_CELLS)`` grid per step and flattened, so that a linear
#: readout can see *where* something is without a mask (``mean`` and ``time`` average it away).
GRID_CELLS = 4


def parse_pool(spec: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``"mean,time,none"`` -> ``("mean", "time", "tokens")`` (validated, in canonical order)."""
    if spec is None:
        return DEFAULT_POOL
    items = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    items = ["tokens" if s == "none" else s for s in items]
    bad = [s for s in items if s not in POOL_KINDS]
    if bad or not items:
        raise BadOptionError(f"--pool {spec!r}: unknown kind(s) {bad}; use a comma-separated subset of mean,time,object,grid,none (= full tokens)")
    return tuple(k for k in POOL_KINDS if k in items)


def pool_tokens(tokens: torch.Tensor, kinds: tuple[str, ...], coverage: np.ndarray | torch.Tensor | None,
                dtype: str = "float32") -> dict[str, np.ndarray]:
    """Pool one layer's tokens (B, T', H', W', D).

    ``object`` is the coverage-weighted mean over each object's tokens per time step,
    (B, T', K, D), NaN where the object covers no token; it needs ``coverage`` (B, T', K, H', W').
    Pools are computed in float32; full ``tokens`` are converted to ``dtype`` by torch (the same
    round-to-nearest-even values as numpy's ``astype``, about ten times faster for float16).
    """
    x = tokens.detach().float().cpu()
    b, t, h, w, d = x.shape
    flat = x.reshape(b, t, h * w, d)
    out: dict[str, np.ndarray] = {}
    spatial = flat.mean(dim=2)  # (B, T', D); every step has the same number of tokens, so the
    if "mean" in kinds:         # mean over all tokens is the mean of the per-step means
        out["mean"] = spatial.mean(dim=1).numpy()
    if "time" in kinds:
        out["time"] = spatial.numpy()
    if "object" in kinds and coverage is not None and coverage.shape[2] > 0:
        weights = (coverage if torch.is_tensor(coverage) else torch.from_numpy(np.asarray(coverage, dtype=np.float32)))
        weights = weights.float().reshape(b, t, coverage.shape[2], h * w)
        total = weights.sum(dim=-1)  # (B, T', K)
        obj = torch.matmul(weights, flat) / total.unsqueeze(-1)
        obj[total == 0] = float("nan")
        out["object"] = obj.numpy()
    if "grid" in kinds:
        out["grid"] = grid_pool(x.numpy())
    if "tokens" in kinds:
        out["tokens"] = x.to(getattr(torch, np.dtype(dtype).name)).numpy()
    return out


def grid_pool(tokens: np.ndarray) -> np.ndarray:
    """Average tokens (..., H', W', D) over a coarse spatial grid and flatten each step.

    Parameters
    ----------
    tokens
        Token grids with the spatial axes third and second from last.

    Returns
    -------
    numpy.ndarray
        ``(..., g_h * g_w * D)`` with ``g = min(side, GRID_CELLS)``; cell boundaries follow
        ``torch.nn.functional.adaptive_avg_pool2d`` (cells overlap by one token where the side is
        not a multiple of the cell count).
    """
    *lead, h, w, d = tokens.shape
    gh, gw = min(h, GRID_CELLS), min(w, GRID_CELLS)
    x = torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.float32)).reshape(-1, h, w, d).permute(0, 3, 1, 2)
    pooled = torch.nn.functional.adaptive_avg_pool2d(x, (gh, gw)).permute(0, 2, 3, 1)
    return pooled.reshape(*lead, gh * gw * d).numpy()
