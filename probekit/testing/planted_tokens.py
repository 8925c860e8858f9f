"""Planted token grids with a known binding answer.

Objects are discs moving over a token grid, each in its own band of rows (so their masks never
overlap); each token's coverage is the fraction of it inside a disc. Every object's state, its
``velocity_world`` and ``position_camera``, is drawn independently of the other objects', so
one object's state says nothing about another's. Layers of the store (:data:`TOKEN_FORMS`):

==============  ==============================================================================
layer           what each token carries
==============  ==============================================================================
``bound``       the code of the object covering it (and the background's) plus that object's
                state, weighted by coverage: tokens group into the objects and each object's
                state stays in its own tokens
``entangled``   the objects' codes as in ``bound``, but the state of every object at every
                token: each object's tokens hold all objects' states (high pooled
                decodability, no specificity)
``position``    only the token's own (t, h, w) position (zero-padded), no noise: a
                position-only encoder, whose clusters are those of k-means on positions
``noise``       Gaussian noise
==============  ==============================================================================
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from probekit.store import write_store

#: The layers of :func:`write_token_store`, in order.
TOKEN_FORMS = ("bound", "entangled", "position", "noise")


def disc_coverage(centre_rc: np.ndarray, radius: float, grid: tuple[int, int], subsample: int = 4) -> np.ndarray:
    """Fraction of each token of a ``grid`` inside discs.

    Parameters
    ----------
    centre_rc
        (..., 2) disc centres in token units (row, column; token ``(r, c)`` spans
        ``[r, r + 1) x [c, c + 1)``).
    radius
        Disc radius in token units.
    grid
        (H, W) of the token grid.
    subsample
        Sub-points per token side.

    Returns
    -------
    numpy.ndarray
        (..., H, W) coverage in [0, 1].
    """
    h, w = grid
    offsets = (np.arange(subsample) + 0.5) / subsample
    rows = (np.arange(h)[:, None] + offsets[None, :]).ravel()  # (H*s,)
    cols = (np.arange(w)[:, None] + offsets[None, :]).ravel()
    dr = rows[None, :] - centre_rc[..., 0:1]
    dc = cols[None, :] - centre_rc[..., 1:2]
    inside = dr[..., :, None] ** 2 + dc[..., None, :] ** 2 <= radius**2  # (..., H*s, W*s)
    shape = inside.shape[:-2] + (h, subsample, w, subsample)
    return inside.reshape(shape).mean(axis=(-3, -1))


def token_world(n_clips: int = 40, n_steps: int = 4, grid: tuple[int, int] = (8, 8), k_max: int = 3,
                seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, list[str]], np.ndarray]:
    """Store-aligned labels of discs moving in separate bands of a token grid.

    Each clip holds 2 or 3 objects (slot ``k`` in row band ``k``); a disc of radius 1.2 tokens
    drifts horizontally. Velocities are drawn per step and position offsets per clip,
    independently for every object.

    Returns
    -------
    labels, clips, token_frames
        As :func:`probekit.testing.synthetic_labels` returns them (``token_coverage`` of shape
        (N, T', K, H, W)).
    """
    rng = np.random.default_rng(seed)
    n, t, k = n_clips, n_steps, k_max
    h, w = grid
    exists = np.ones((n, t, k), bool)
    count = rng.integers(2, k + 1, size=n)
    for c in range(n):
        exists[c, :, count[c]:] = False
    band = (np.arange(k) + 0.5) * h / k  # row centre of each slot's band
    start = rng.uniform(1.5, w - 1.5, size=(n, k))
    drift = rng.uniform(-0.4, 0.4, size=(n, k))
    col = np.clip(start[:, None, :] + drift[:, None, :] * np.arange(t)[None, :, None], 1.2, w - 1.2)
    row = np.broadcast_to(band[None, None, :], (n, t, k)) + rng.uniform(-0.2, 0.2, size=(n, t, k))
    coverage = disc_coverage(np.stack([row, col], axis=-1), 1.2, grid)  # (n, t, k, h, w)
    coverage[~exists] = 0.0
    velocity = rng.normal(size=(n, t, k, 3)).astype(np.float32)
    position = np.stack([col / w, row / h, rng.uniform(2.0, 3.0, size=(n, t, k))], axis=-1).astype(np.float32)
    velocity[~exists] = np.nan
    position[~exists] = np.nan
    labels = {
        "exists": exists,
        "visible": exists.copy(),
        "visible_fraction": np.where(exists, 1.0, np.nan).astype(np.float32),
        "velocity_world": velocity,
        "position_camera": position,
        "token_coverage": coverage.astype(np.float16),
        "frame_mid": (np.arange(t) * 2 + 0.5).astype(np.float32),
        "clip/gravity": rng.uniform(8.0, 11.0, size=n).astype(np.float32),
    }
    clips = {
        "clip_id": [f"clip{c:04d}" for c in range(n)],
        "family_id": [f"fam{c:04d}" for c in range(n)],
        "scenario": ["drop"] * n,
        "kind": ["original"] * n,
    }
    token_frames = np.stack([np.arange(t) * 2, np.arange(t) * 2 + 1], axis=1)
    return labels, clips, token_frames


def _state(labels: dict[str, np.ndarray]) -> np.ndarray:
    """(n, t, k, 6) standardised velocity and position, 0 where the object is absent."""
    state = np.concatenate([labels["velocity_world"], labels["position_camera"]], axis=-1).astype(np.float64)
    valid = labels["exists"]
    mean, std = state[valid].mean(axis=0), state[valid].std(axis=0) + 1e-9
    return np.where(valid[..., None], (state - mean) / std, 0.0)


def _orthonormal(dim: int, k: int, rng: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(dim, k)))
    return q[:, :k].T


def token_layers(labels: dict[str, np.ndarray], dim: int = 48, seed: int = 0,
                 forms: tuple[str, ...] = TOKEN_FORMS) -> dict[int, dict[str, np.ndarray]]:
    """Store layers ``{index: {"tokens", "time", "mean"}}``, layer ``i`` of the form ``forms[i]``."""
    from probekit.stages.binding import position_features

    coverage = labels["token_coverage"].astype(np.float64)  # (n, t, k, h, w)
    n, t, k, h, w = coverage.shape
    background = np.clip(1.0 - coverage.sum(axis=2), 0.0, None)  # (n, t, h, w)
    state = _state(labels)  # (n, t, k, 6)
    out: dict[int, dict[str, np.ndarray]] = {}
    for index, form in enumerate(forms):
        rng = np.random.default_rng([seed, index])
        basis = _orthonormal(dim, k + 1 + 6 + 6 * k, rng)
        codes, own, every = 6.0 * basis[: k + 1], basis[k + 1 : k + 7], basis[k + 7 :]
        noise = rng.normal(scale=0.3, size=(n, t, h, w, dim))
        if form == "bound":
            tokens = np.einsum("nthw,d->nthwd", background, codes[0]) + np.einsum("ntkhw,kd->nthwd", coverage, codes[1:])
            tokens += np.einsum("ntkhw,ntks,sd->nthwd", coverage, state, own) + noise
        elif form == "entangled":
            tokens = np.einsum("nthw,d->nthwd", background, codes[0]) + np.einsum("ntkhw,kd->nthwd", coverage, codes[1:])
            tokens += (state.reshape(n, t, 6 * k) @ every)[:, :, None, None, :] + noise
        elif form == "position":
            tokens = np.zeros((n, t, h, w, dim))  # the positions in the first three features
            tokens[..., :3] = position_features((t, h, w)).reshape(t, h, w, 3)
        elif form == "noise":
            tokens = noise
        else:
            raise ValueError(f"unknown token form {form!r}; known: {TOKEN_FORMS}")
        time = tokens.mean(axis=(2, 3))
        out[index] = {"tokens": tokens, "time": time, "mean": time.mean(axis=1)}
    return out


def write_token_store(path: str | os.PathLike, *, n_clips: int = 40, n_steps: int = 4, grid: tuple[int, int] = (8, 8),
                      dim: int = 48, seed: int = 0, forms: tuple[str, ...] = TOKEN_FORMS, attrs: dict | None = None) -> Path:
    """Write a store whose layers follow ``forms`` over :func:`token_world` labels; returns the path."""
    labels, clips, token_frames = token_world(n_clips=n_clips, n_steps=n_steps, grid=grid, seed=seed)
    layers = token_layers(labels, dim=dim, seed=seed, forms=forms)
    base = {
        "encoder": "planted-tokens",
        "init": "planted",
        "weights": "planted",
        "weight_hash": f"planted-tokens-{seed}-{'-'.join(forms)}",
        "config": {"forms": list(forms), "dim": dim, "seed": seed},
        "layer_names": list(forms),
        "final_norm": False,
        "token_grid": [n_steps, *grid],
        "shuffle_frames_seed": -1,
        "probekit_version": "0",
        "pool": ["mean", "time", "tokens"],
    }
    base.update(attrs or {})
    return write_store(path, attrs=base, clips=clips, layers=layers, labels=labels, token_frames=token_frames, dtype="float32")


__all__ = ["TOKEN_FORMS", "disc_coverage", "token_layers", "token_world", "write_token_store"]
