"""The planted-signal encoder: store layers that encode known properties in known forms.

Every layer is a pure numpy function of the aligned labels (and a seed), so a probe sweep over
these layers has a written-down answer:

===========  ===============================================================================
layer        what it carries
===========  ===============================================================================
``noise``    nothing: Gaussian noise in every feature kind
``linear``   slot 0's camera position, linear in the pooled (``time``/``mean``) vector at a set
             signal-to-noise ratio: the best linear readout has R^2 = SNR / (1 + SNR)
``nonlinear`` slot 0's camera position only through a multiplicative code (position times a
             random sign, with the sign in another feature): uncorrelated with any linear
             readout (R^2 ~ 0) but decodable by an MLP
``object``   each slot's acceleration, linear in that slot's own ``object`` tokens only; the
             pooled vector holds noise
``contact``  each slot's contact (``contact_interval``) in the pooled vector, linear
``attributes`` each slot's type (shape x colour x size bin, one-hot) in its ``object``
             tokens: what a control task tied to recurring types can learn
``memorise`` a random code per clip in the pooled vector (a memorisation trap)
===========  ===============================================================================

:func:`synthetic_labels` makes store-aligned labels without a simulator (for fast tests);
:func:`planted_layers` turns labels into layers; :func:`write_planted_store` writes a store.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from probekit.formats.store import write_store

GRID = (4, 4)
PALETTE = np.array([[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.1, 0.3, 0.9], [0.9, 0.8, 0.1]], dtype=np.float32)


def synthetic_labels(
    n_clips: int = 120,
    n_steps: int = 8,
    k_max: int = 3,
    seed: int = 0,
    twins: float = 0.2,
    scenarios: tuple[str, ...] = ("drop", "collide"),
) -> tuple[dict[str, np.ndarray], dict[str, list[str]], np.ndarray]:
    """Store-aligned labels of random but self-consistent object motion.

    Acceleration is random per step, velocity and position are its running integrals, contact
    is a persistent random process with impulse at contact onsets, and each clip draws per-clip
    constants (shape, colour, size, mass, friction, gravity). A share ``twins`` of families hold
    two clips (a clip and a near copy), to exercise grouped splits.

    Returns
    -------
    labels, clips, token_frames
        ``labels`` as written under ``labels/`` in a store, ``clips`` string columns, and the
        (T', 2) token frame spans (two frames per step).
    """
    rng = np.random.default_rng(seed)
    n, t, k = n_clips, n_steps, k_max
    dt = 2.0 / 30.0
    exists = np.ones((n, t, k), bool)
    n_objects = rng.integers(2, k + 1, size=n)
    for c in range(n):
        exists[c, :, n_objects[c] :] = False
    acc = rng.normal(0.0, 2.0, size=(n, t, k, 3)).astype(np.float32)
    vel0 = rng.normal(0.0, 0.5, size=(n, 1, k, 3))
    vel = (vel0 + np.cumsum(acc, axis=1) * dt).astype(np.float32)
    pos0 = np.stack([rng.uniform(-0.5, 0.5, (n, k)), rng.uniform(-0.3, 0.3, (n, k)), rng.uniform(2.0, 3.0, (n, k))], -1)[:, None]
    pos = (pos0 + np.cumsum(vel, axis=1) * dt).astype(np.float32)
    focal, centre = 64.0, 32.0
    image = np.stack([focal * pos[..., 0] / pos[..., 2] + centre, focal * pos[..., 1] / pos[..., 2] + centre], -1).astype(np.float32)
    contact = np.zeros((n, t, k), bool)
    state = rng.random((n, k)) < 0.3
    for s in range(t):
        flip = rng.random((n, k)) < 0.25
        state = np.where(flip, ~state, state)
        contact[:, s] = state
    impulse = contact & ~np.concatenate([np.zeros((n, 1, k), bool), contact[:, :-1]], axis=1)
    ground = contact & (rng.random((n, t, k)) < 0.6)
    visible_fraction = np.clip(rng.beta(2.0, 1.0, size=(n, t, k)), 0, 1).astype(np.float32)
    visible_fraction[rng.random((n, t, k)) < 0.08] = 0.0
    # coverage of the 4 x 4 token grid: a blob at the projected centre, scaled by visibility
    rows = (np.arange(GRID[0]) + 0.5) * 64.0 / GRID[0]
    cols = (np.arange(GRID[1]) + 0.5) * 64.0 / GRID[1]
    dy = rows[None, None, None, :, None] - image[..., 1][..., None, None]
    dx = cols[None, None, None, None, :] - image[..., 0][..., None, None]
    coverage = np.exp(-(dx**2 + dy**2) / (2 * 10.0**2)) * visible_fraction[..., None, None]
    coverage = np.where(coverage > 0.05, coverage, 0.0)
    quats = rng.normal(size=(n, t, k, 4))
    quats /= np.linalg.norm(quats, axis=-1, keepdims=True)
    from scipy.spatial.transform import Rotation

    mats = Rotation.from_quat(quats.reshape(-1, 4)).as_matrix().reshape(n, t, k, 3, 3)
    rot6d = np.concatenate([mats[..., :, 0], mats[..., :, 1]], axis=-1).astype(np.float32)
    shape = rng.integers(0, 3, size=(n, k)).astype(np.int8)
    colour_idx = rng.integers(0, len(PALETTE), size=(n, k))
    size = rng.choice([0.05, 0.08, 0.12], size=(n, k))
    half_extents = np.repeat(size[..., None], 3, axis=-1).astype(np.float32)
    shape[~exists[:, 0]] = -1
    labels: dict[str, np.ndarray] = {
        "exists": exists,
        "visible": visible_fraction > 0,
        "visible_fraction": visible_fraction,
        "position_camera": pos,
        "position_image": image,
        "velocity_world": vel,
        "acceleration_world": acc,
        "impulse": impulse,
        "contact_now": contact,
        "contact_interval": contact,
        "contact_ground_now": ground,
        "contact_ground_interval": ground,
        "contact_object_now": contact & ~ground,
        "contact_object_interval": contact & ~ground,
        "rot6d_camera": rot6d,
        "token_coverage": coverage.astype(np.float16),
        "frame_mid": (np.arange(t) * 2 + 0.5).astype(np.float32),
        "clip/gravity": rng.uniform(8.0, 11.0, size=n).astype(np.float32),
        "clip/mass": rng.uniform(0.2, 2.0, size=(n, k)).astype(np.float32),
        "clip/friction": rng.uniform(0.1, 0.9, size=(n, k)).astype(np.float32),
        "clip/restitution": rng.uniform(0.1, 0.9, size=(n, k)).astype(np.float32),
        "clip/shape": shape,
        "clip/symmetry": np.where(shape == 0, 0, np.where(shape == 2, 1, 2)).astype(np.int8),
        "clip/half_extents": half_extents,
        "clip/color": PALETTE[colour_idx],
    }
    for key, value in labels.items():
        if key.startswith("clip/") or key in ("frame_mid", "token_coverage") or value.dtype == bool:
            continue
        if value.ndim >= 3 and value.shape[:3] == (n, t, k):
            value[~exists] = np.nan
    family = []
    fam = 0
    for c in range(n):
        if c > 0 and rng.random() < twins and family[-1] == f"fam{fam - 1:04d}" and (c < 2 or family[-2] != family[-1]):
            family.append(family[-1])
        else:
            family.append(f"fam{fam:04d}")
            fam += 1
    clips = {
        "clip_id": [f"clip{c:04d}" for c in range(n)],
        "family_id": family,
        "scenario": [scenarios[int(i)] for i in rng.integers(0, len(scenarios), size=n)],
        "kind": ["original"] * n,
    }
    token_frames = np.stack([np.arange(t) * 2, np.arange(t) * 2 + 1], axis=1)
    return labels, clips, token_frames


# -- layer forms (pure functions of labels) ------------------------------------------------------


def _standardise(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Whiten (n..., c) values over the valid entries; invalid entries become 0."""
    flat = values[valid].astype(np.float64)
    mean = flat.mean(axis=0)
    cov = np.cov(flat - mean, rowvar=False).reshape(flat.shape[1], flat.shape[1])
    evals, evecs = np.linalg.eigh(cov)
    white = evecs / np.sqrt(np.maximum(evals, 1e-12))
    out = np.zeros(values.shape, np.float64)
    out[valid] = (flat - mean) @ white
    return out


def _orthonormal(dim: int, k: int, rng: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(dim, k)))
    return q[:, :k].T  # (k, dim)


def _pooled_from_time(time: np.ndarray) -> np.ndarray:
    return time.mean(axis=1)


def _base(labels: dict[str, np.ndarray], dim: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n, t, k = labels["exists"].shape
    time = rng.normal(size=(n, t, dim))
    obj = rng.normal(size=(n, t, k, dim))
    obj[~(labels["token_coverage"].astype(np.float32).reshape(n, t, k, -1).sum(-1) > 0)] = np.nan
    return {"time": time, "object": obj}


def layer_noise(labels: dict[str, np.ndarray], dim: int, rng: np.random.Generator, **_: float) -> dict[str, np.ndarray]:
    """Noise only in every feature kind."""
    return _base(labels, dim, rng)


def layer_linear(labels: dict[str, np.ndarray], dim: int, rng: np.random.Generator, snr: float = 4.0, **_: float) -> dict[str, np.ndarray]:
    """Slot 0's ``position_camera`` linear in the pooled vector: x = sqrt(SNR) U s + e.

    ``s`` is the whitened position (unit variance, uncorrelated), ``U`` orthonormal and ``e``
    unit Gaussian noise, so the best linear readout of any position component has
    R^2 = SNR / (1 + SNR).
    """
    out = _base(labels, dim, rng)
    valid = labels["exists"][..., 0]
    s = _standardise(labels["position_camera"][..., 0, :], valid)
    out["time"] = out["time"] + np.sqrt(snr) * s @ _orthonormal(dim, 3, rng)
    return out


def layer_nonlinear(labels: dict[str, np.ndarray], dim: int, rng: np.random.Generator, snr: float = 16.0, **_: float) -> dict[str, np.ndarray]:
    """Slot 0's position only as ``s * r`` with a random sign ``r`` per sample, ``r`` stored in
    one more direction: no linear readout recovers ``s`` (their covariance is zero), an MLP can
    (``s = (s r) r``)."""
    out = _base(labels, dim, rng)
    valid = labels["exists"][..., 0]
    s = _standardise(labels["position_camera"][..., 0, :], valid)
    sign = rng.choice([-1.0, 1.0], size=s.shape[:-1] + (1,))
    code = np.concatenate([s * sign, sign], axis=-1)
    out["time"] = out["time"] * (1.0 / np.sqrt(snr)) + code @ _orthonormal(dim, 4, rng)
    return out


def layer_object(labels: dict[str, np.ndarray], dim: int, rng: np.random.Generator, snr: float = 9.0, **_: float) -> dict[str, np.ndarray]:
    """Each slot's ``acceleration_world`` linear in that slot's own ``object`` features only."""
    out = _base(labels, dim, rng)
    valid = labels["exists"]
    s = _standardise(labels["acceleration_world"], valid)
    visible = ~np.isnan(out["object"][..., 0])
    planted = out["object"] + np.sqrt(snr) * s @ _orthonormal(dim, 3, rng)
    out["object"] = np.where(visible[..., None], planted, np.nan)
    return out


def layer_contact(labels: dict[str, np.ndarray], dim: int, rng: np.random.Generator, snr: float = 9.0, **_: float) -> dict[str, np.ndarray]:
    """Each slot's ``contact_interval`` linear in the pooled vector (one direction per slot)."""
    out = _base(labels, dim, rng)
    contact = labels["contact_interval"].astype(np.float64) * 2.0 - 1.0  # (n, t, k)
    contact[~labels["exists"]] = 0.0
    k = contact.shape[-1]
    out["time"] = out["time"] + np.sqrt(snr) * contact @ _orthonormal(dim, k, rng)
    return out


def layer_attributes(labels: dict[str, np.ndarray], dim: int, rng: np.random.Generator, snr: float = 9.0, **_: float) -> dict[str, np.ndarray]:
    """Each slot's type (shape x colour x size bin, one-hot) in its ``object`` features.

    Types recur across clips, so a control task tied to them is learnable under clip splits.
    """
    from probekit.evaluation.controls import object_types
    from probekit.evaluation.targets import LabelSource

    class _Dict(LabelSource):
        def __init__(self, data: dict[str, np.ndarray]) -> None:
            self.names, self._cache = set(data), dict(data)

    out = _base(labels, dim, rng)
    types = object_types(_Dict(labels))
    _, codes = np.unique(types, return_inverse=True)
    codes = codes.reshape(types.shape)
    n_types = int(codes.max()) + 1
    if n_types > dim:
        raise ValueError(f"layer_attributes: {n_types} object types need dim >= {n_types}, got {dim}")
    onehot = np.eye(n_types)[codes]  # (n, k, n_types)
    planted = out["object"] + np.sqrt(snr) * onehot[:, None] @ _orthonormal(dim, n_types, rng)
    out["object"] = np.where(np.isnan(out["object"][..., :1]), np.nan, planted)
    return out


def layer_memorise(labels: dict[str, np.ndarray], dim: int, rng: np.random.Generator, snr: float = 25.0, **_: float) -> dict[str, np.ndarray]:
    """A memorisation trap: a random code per clip, the same at every step, in the pooled vector.

    Paired with any per-clip target, frames of one clip share code and target: a probe scored
    on frames of clips it trained on looks good, one scored on unseen clips scores at chance.
    """
    out = _base(labels, dim, rng)
    code = rng.normal(size=(out["time"].shape[0], 1, dim))
    out["time"] = out["time"] / np.sqrt(snr) + code
    return out


PLANTED_LAYERS: dict[str, Callable[..., dict[str, np.ndarray]]] = {
    "noise": layer_noise,
    "linear": layer_linear,
    "nonlinear": layer_nonlinear,
    "object": layer_object,
    "contact": layer_contact,
    "attributes": layer_attributes,
    "memorise": layer_memorise,
}


def planted_layers(
    labels: dict[str, np.ndarray],
    forms: list[str] | tuple[str, ...] = ("noise", "linear", "nonlinear", "object", "contact"),
    dim: int = 32,
    seed: int = 0,
    snr: dict[str, float] | None = None,
    tokens: bool = False,
) -> dict[int, dict[str, np.ndarray]]:
    """Build store layers ``{index: {kind: array}}``, layer ``i`` of the form ``forms[i]``.

    Parameters
    ----------
    labels
        Store-aligned labels (e.g. from :func:`synthetic_labels` or a world file).
    forms
        Names from :data:`PLANTED_LAYERS`, one per layer.
    dim
        Feature width D.
    seed
        Seed of noise and projections (each layer draws its own stream).
    snr
        Optional SNR per form name.
    tokens
        Also write a ``tokens`` grid: the pooled (``time``) vector at every token plus each
        slot's object features at the tokens its mask covers (weighted by coverage) plus noise;
        the pooled and object features are unchanged.
    """
    out: dict[int, dict[str, np.ndarray]] = {}
    for index, form in enumerate(forms):
        if form not in PLANTED_LAYERS:
            raise ValueError(f"unknown planted form {form!r}; known: {sorted(PLANTED_LAYERS)}")
        rng = np.random.default_rng([seed, index])
        kinds = PLANTED_LAYERS[form](labels, dim, rng, **({"snr": snr[form]} if snr and form in snr else {}))
        kinds["mean"] = _pooled_from_time(kinds["time"])
        if tokens:
            cov = labels["token_coverage"].astype(np.float64)  # (n, t, k, h, w)
            obj = np.nan_to_num(kinds["object"])
            grid = rng.normal(size=cov.shape[:2] + cov.shape[3:] + (dim,)) * 0.5
            grid = grid + kinds["time"][:, :, None, None, :] + np.einsum("ntkhw,ntkd->nthwd", cov, obj)
            kinds["tokens"] = grid
        out[index] = kinds
    return out


def write_planted_store(
    path: str | os.PathLike,
    labels: dict[str, np.ndarray] | None = None,
    clips: dict[str, list[str]] | None = None,
    token_frames: np.ndarray | None = None,
    *,
    forms: list[str] | tuple[str, ...] = ("noise", "linear", "nonlinear", "object", "contact"),
    dim: int = 32,
    seed: int = 0,
    snr: dict[str, float] | None = None,
    tokens: bool = False,
    attrs: dict | None = None,
    n_clips: int = 120,
    n_steps: int = 8,
) -> Path:
    """Write a complete latent store whose layers follow ``forms``.

    Without ``labels``, synthetic labels are drawn with :func:`synthetic_labels` (``n_clips``,
    ``n_steps``, ``seed``). Returns the path.
    """
    if labels is None:
        labels, clips, token_frames = synthetic_labels(n_clips=n_clips, n_steps=n_steps, seed=seed)
    layers = planted_layers(labels, forms, dim=dim, seed=seed, snr=snr, tokens=tokens)
    n, t = labels["exists"].shape[:2]
    base_attrs = {
        "encoder": "planted",
        "init": "planted",
        "weights": "planted",
        "weight_hash": f"planted-{seed}-{'-'.join(forms)}",
        "config": {"forms": list(forms), "dim": dim, "seed": seed, "snr": snr or {}},
        "layer_names": list(forms),
        "final_norm": False,
        "token_grid": [t, *labels["token_coverage"].shape[-2:]],
        "shuffle_frames_seed": -1,
        "probekit_version": "0",
    }
    base_attrs.update(attrs or {})
    return write_store(path, attrs=base_attrs, clips=clips, layers=layers, labels=labels, token_frames=token_frames, dtype="float32")
