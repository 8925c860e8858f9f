"""Symmetry-aware geodesic rotation error in degrees.

Symmetry codes follow the world file (``objects/symmetry``): 0 full (sphere: orientation
unobservable, excluded), 1 axial (cylinder: only the axis, the body z-axis, counts, and the axis
is unsigned), 2 discrete (box: the 24 proper rotations of the cube; for boxes with unequal
half-extents pass ``half_extents`` so that only the symmetries of the box itself are used).
"""

from __future__ import annotations

import itertools

import numpy as np

SYMMETRY_FULL, SYMMETRY_AXIAL, SYMMETRY_DISCRETE, SYMMETRY_NONE = 0, 1, 2, 3


def rot6d_to_matrix(r6: np.ndarray) -> np.ndarray:
    """Map the continuous 6D representation to rotation matrices by Gram-Schmidt.

    Parameters
    ----------
    r6
        (..., 6): the first two columns of a rotation matrix, stacked column by column
        (r00, r10, r20, r01, r11, r21), possibly noisy (e.g. a probe's prediction).

    Returns
    -------
    np.ndarray
        (..., 3, 3) proper rotation matrices.
    """
    r6 = np.asarray(r6, dtype=np.float64)
    a, b = r6[..., 0:3], r6[..., 3:6]
    e1 = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b - (e1 * b).sum(-1, keepdims=True) * e1
    e2 = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    e3 = np.cross(e1, e2)
    return np.stack([e1, e2, e3], axis=-1)


def _cube_group() -> np.ndarray:
    """The 24 proper rotations that map the axis-aligned cube onto itself."""
    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3))
            for row, (col, sign) in enumerate(zip(perm, signs)):
                m[row, col] = sign
            if np.isclose(np.linalg.det(m), 1.0):
                mats.append(m)
    return np.array(mats)


CUBE_GROUP = _cube_group()


def box_symmetry_group(half_extents: np.ndarray | None, rtol: float = 1e-3) -> np.ndarray:
    """Proper rotations mapping a box with ``half_extents`` onto itself (24, 8 or 4 of them)."""
    if half_extents is None:
        return CUBE_GROUP
    h = np.asarray(half_extents, dtype=np.float64)
    keep = [g for g in CUBE_GROUP if np.allclose(np.abs(g) @ h, h, rtol=rtol)]
    return np.array(keep)


def _angle(cos: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def geodesic_deg(
    r_true: np.ndarray,
    r_pred: np.ndarray,
    symmetry: np.ndarray | int = SYMMETRY_NONE,
    half_extents: np.ndarray | None = None,
) -> np.ndarray:
    """Per-sample rotation error in degrees, minimised over the object's symmetries.

    Parameters
    ----------
    r_true, r_pred
        (n, 3, 3) rotation matrices or (n, 6) 6D representations (predictions are projected
        onto rotations by Gram-Schmidt).
    symmetry
        Scalar or (n,) codes: 0 full (NaN: excluded), 1 axial (angle between the unsigned
        body z-axes), 2 discrete box group, 3 none (plain geodesic distance).
    half_extents
        Optional (n, 3) box half-extents; restricts the box group to the box's own symmetries.

    Returns
    -------
    np.ndarray
        (n,) errors in degrees; NaN for spheres.
    """
    rt = np.asarray(r_true, dtype=np.float64)
    rp = np.asarray(r_pred, dtype=np.float64)
    rt = rot6d_to_matrix(rt) if rt.shape[-1] == 6 else rt
    rp = rot6d_to_matrix(rp) if rp.shape[-1] == 6 else rp
    n = len(rt)
    sym = np.broadcast_to(np.asarray(symmetry), (n,))
    out = np.full(n, np.nan)
    rel = np.einsum("nji,njk->nik", rt, rp)  # R_true^T R_pred
    plain = sym == SYMMETRY_NONE
    out[plain] = _angle((np.trace(rel[plain], axis1=1, axis2=2) - 1.0) / 2.0)
    axial = sym == SYMMETRY_AXIAL
    out[axial] = _angle(np.abs((rt[axial, :, 2] * rp[axial, :, 2]).sum(-1)))
    for i in np.flatnonzero(sym == SYMMETRY_DISCRETE):
        group = box_symmetry_group(None if half_extents is None else half_extents[i])
        # R_pred ~ R_true G for G in the group: error = min_G angle(G^T R_true^T R_pred)
        traces = np.einsum("gji,jk->gik", group, rel[i]).trace(axis1=1, axis2=2)
        out[i] = _angle((traces.max() - 1.0) / 2.0)
    return out
