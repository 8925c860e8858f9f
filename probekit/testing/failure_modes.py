"""Planted failure modes: stores whose latents fail (or succeed) in a known way.

Each mode is a pure numpy function of store-aligned labels (for example
:func:`probekit.testing.synthetic_labels`) and a seed, so a probe run over these stores has a
written-down verdict for every object's camera position:

==================  =============================================================================
mode                what the latents hold                                 verdict on position
==================  =============================================================================
``over_invariant``  only the nuisance variables (scenario, frame index,   over-invariant (the
                    object count, object size), in the pooled vector and  ceiling carries it)
                    every object's tokens: the physics is erased
``entangled``       every object's state in the pooled vector (one         entangled
                    projection per slot), but each object's tokens hold
                    the sum of the *other* objects' states: present in
                    the scene, not bound to its own object
``bound``           each object's state in its own tokens (one shared      encoded
                    projection), the pooled vector their per-slot sum
==================  =============================================================================
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from probekit.store import write_store

#: The failure modes and the verdict a probe run must give their slot-0 camera position.
FAILURE_MODES = {"over_invariant": "over-invariant", "entangled": "entangled", "bound": "encoded"}


def _whitened_state(labels: dict[str, np.ndarray]) -> np.ndarray:
    """(n, t, k, 3) camera position standardised over existing objects (0 where absent)."""
    pos = labels["position_camera"].astype(np.float64)
    exists = labels["exists"]
    values = pos[exists]
    out = np.zeros_like(pos)
    out[exists] = (values - values.mean(axis=0)) / np.maximum(values.std(axis=0), 1e-9)
    return out


def _nuisance(labels: dict[str, np.ndarray], scenarios: np.ndarray) -> np.ndarray:
    """(n, t, f) scenario one-hot, frame index, object count and mean object size."""
    n, t, k = labels["exists"].shape
    names, codes = np.unique(np.asarray(scenarios), return_inverse=True)
    onehot = np.broadcast_to(np.eye(len(names))[codes][:, None, :], (n, t, len(names)))
    frame = np.broadcast_to(np.asarray(labels["frame_mid"], np.float64)[None, :, None], (n, t, 1))
    count = labels["exists"].sum(axis=2, keepdims=True).astype(np.float64)
    size = np.linalg.norm(np.nan_to_num(labels["clip/half_extents"].astype(np.float64)), axis=-1)  # (n, k)
    mean_size = np.broadcast_to(size.mean(axis=1)[:, None, None], (n, t, 1))
    feats = np.concatenate([onehot, frame, count, mean_size], axis=-1)
    return (feats - feats.mean(axis=(0, 1))) / np.maximum(feats.std(axis=(0, 1)), 1e-9)


def failure_mode_layers(labels: dict[str, np.ndarray], scenarios: np.ndarray, mode: str, dim: int = 24, snr: float = 9.0, seed: int = 0) -> dict[int, dict[str, np.ndarray]]:
    """One store layer ``{0: {"time", "mean", "object"}}`` of failure mode ``mode``.

    Parameters
    ----------
    labels
        Store-aligned labels (``exists``, ``position_camera``, ``frame_mid``,
        ``clip/half_extents``, ``token_coverage``).
    scenarios
        (n,) scenario of each clip.
    mode
        One of :data:`FAILURE_MODES`.
    dim
        Feature width.
    snr
        Signal-to-noise ratio of each planted component (unit Gaussian noise).
    seed
        Seed of projections and noise.
    """
    if mode not in FAILURE_MODES:
        raise ValueError(f"unknown failure mode {mode!r}; known: {sorted(FAILURE_MODES)}")
    rng = np.random.default_rng(seed)
    n, t, k = labels["exists"].shape
    gain = np.sqrt(snr)
    state = _whitened_state(labels)  # (n, t, k, 3)
    exists = labels["exists"][..., None]
    time = rng.normal(size=(n, t, dim))
    obj = rng.normal(size=(n, t, k, dim))
    if mode == "over_invariant":
        nuisance = _nuisance(labels, scenarios)
        proj = np.linalg.qr(rng.normal(size=(dim, nuisance.shape[-1])))[0].T
        time += gain * nuisance @ proj
        obj += gain * (nuisance @ proj)[:, :, None, :]
    else:
        per_slot = np.linalg.qr(rng.normal(size=(dim, 3 * k)))[0].T.reshape(k, 3, dim)  # orthonormal rows
        shared = per_slot[0]
        time += gain * np.einsum("ntkc,kcd->ntd", state, per_slot)
        own = np.einsum("ntkc,cd->ntkd", state, shared) * exists
        if mode == "bound":
            obj += gain * own
        else:  # entangled: each object's tokens hold the other objects' states
            obj += gain * (own.sum(axis=2, keepdims=True) - own)
    visible = labels["token_coverage"].astype(np.float32).reshape(n, t, k, -1).sum(-1) > 0
    obj[~visible] = np.nan
    return {0: {"time": time, "mean": time.mean(axis=1), "object": obj}}


def write_failure_mode_store(
    path: str | os.PathLike,
    labels: dict[str, np.ndarray],
    clips: dict[str, list[str]],
    token_frames: np.ndarray,
    mode: str,
    *,
    dim: int = 24,
    snr: float = 9.0,
    seed: int = 0,
    weights: str = "planted",
) -> Path:
    """Write a one-layer store of failure mode ``mode`` (encoder name ``failure-<mode>``)."""
    scenarios = np.asarray(clips.get("scenario", ["all"] * len(clips["clip_id"])))
    layers = failure_mode_layers(labels, scenarios, mode, dim=dim, snr=snr, seed=seed)
    n, t = labels["exists"].shape[:2]
    attrs = {
        "encoder": f"failure-{mode}", "init": weights, "weights": weights, "weight_hash": f"failure-{mode}-{seed}",
        "config": {"mode": mode, "dim": dim, "snr": snr, "seed": seed}, "layer_names": [mode], "final_norm": False,
        "token_grid": [t, *labels["token_coverage"].shape[-2:]], "shuffle_frames_seed": -1, "probekit_version": "0",
    }
    return write_store(path, attrs=attrs, clips=clips, layers=layers, labels=labels, token_frames=token_frames, dtype="float32")
