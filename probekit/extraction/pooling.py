"""Per-layer outputs kept in the store: ``mean``, ``time``, ``object`` and full ``tokens``."""

from __future__ import annotations

import numpy as np
import torch

from probekit.errors import BadOptionError

#: Pool kinds accepted by ``--pool`` (``none`` is an alias of ``tokens``: no pooling).
POOL_KINDS = ("mean", "time", "object", "tokens")
DEFAULT_POOL = ("mean", "time", "object")


def parse_pool(spec: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``"mean,time,none"`` -> ``("mean", "time", "tokens")`` (validated, in canonical order)."""
    if spec is None:
        return DEFAULT_POOL
    items = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    items = ["tokens" if s == "none" else s for s in items]
    bad = [s for s in items if s not in POOL_KINDS]
    if bad or not items:
        raise BadOptionError(f"--pool {spec!r}: unknown kind(s) {bad}; use a comma-separated subset of mean,time,object,none (= full tokens)")
    return tuple(k for k in POOL_KINDS if k in items)


def pool_tokens(tokens: torch.Tensor, kinds: tuple[str, ...], coverage: np.ndarray | torch.Tensor | None) -> dict[str, np.ndarray]:
    """Pool one layer's tokens (B, T', H', W', D).

    ``object`` is the coverage-weighted mean over each object's tokens per time step,
    (B, T', K, D), NaN where the object covers no token; it needs ``coverage`` (B, T', K, H', W').
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
    if "tokens" in kinds:
        out["tokens"] = x.numpy()
    return out
