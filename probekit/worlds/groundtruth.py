"""Ground-truth labels derived from simulation state, camera and rendered masks.

Pure functions on arrays; :mod:`probekit.worlds.simulate` calls them once per frame.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from probekit.worlds.camera import project, to_camera


def canonical_quaternion(quat: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (x, y, z, w) flipped so that w >= 0 (q and -q are one rotation)."""
    return np.where(quat[..., 3:4] < 0, -quat, quat)


def rot6d(quat: np.ndarray) -> np.ndarray:
    """(K, 4) quaternions -> (K, 6) first two rotation-matrix columns, column by column."""
    out = np.full(quat.shape[:-1] + (6,), np.nan)
    ok = np.isfinite(quat).all(-1)
    if ok.any():
        matrices = Rotation.from_quat(quat[ok]).as_matrix()
        out[ok] = matrices[:, :, :2].transpose(0, 2, 1).reshape(-1, 6)
    return out


def camera_orientation(quat_world: np.ndarray, extrinsic: np.ndarray) -> np.ndarray:
    """(K, 4) world-frame orientations -> camera-frame orientations (w >= 0)."""
    out = np.full(quat_world.shape, np.nan)
    ok = np.isfinite(quat_world).all(-1)
    if ok.any():
        rotation = Rotation.from_matrix(extrinsic[:3, :3]) * Rotation.from_quat(quat_world[ok])
        out[ok] = canonical_quaternion(rotation.as_quat())
    return out


def mask_box(mask: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) pixel-edge box of a boolean (H, W) mask; NaN when empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return np.full(4, np.nan)
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=np.float64)


def frame_labels(
    position_world: np.ndarray,
    quaternion_world: np.ndarray,
    exists: np.ndarray,
    segmentation: np.ndarray,
    amodal: np.ndarray,
    extrinsic: np.ndarray,
    intrinsic: np.ndarray,
) -> dict[str, np.ndarray]:
    """Camera-frame, image-plane and visibility labels of one frame.

    Parameters
    ----------
    position_world, quaternion_world
        (K, 3) and (K, 4); NaN for absent slots.
    exists
        (K,) bool.
    segmentation
        (H, W) int8 slot codes of the full render.
    amodal
        (K, H, W) bool silhouettes of each object rendered alone.
    extrinsic, intrinsic
        World -> camera transform and pinhole matrix.
    """
    k = len(exists)
    size = segmentation.shape
    position_camera = to_camera(position_world, extrinsic)
    position_image = project(position_camera, intrinsic)
    visible_pixels = np.array([(segmentation == slot).sum() for slot in range(k)])
    amodal_pixels = amodal.reshape(k, -1).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        visible_fraction = np.where(amodal_pixels > 0, visible_pixels / amodal_pixels, np.nan)
    x, y = position_image[:, 0], position_image[:, 1]
    inside = np.isfinite(x) & (x >= 0) & (x < size[1]) & np.isfinite(y) & (y >= 0) & (y < size[0])
    quaternion_camera = camera_orientation(quaternion_world, extrinsic)
    return {
        "visible": exists & (visible_pixels > 0),
        "visible_fraction": np.where(exists, visible_fraction, np.nan),
        "out_of_frame": exists & (~inside | (amodal_pixels == 0)),
        "position_camera": position_camera,
        "position_image": position_image,
        "bbox_visible": np.stack([mask_box(segmentation == slot) for slot in range(k)]),
        "bbox_amodal": np.stack([mask_box(amodal[slot]) for slot in range(k)]),
        "quaternion_camera": quaternion_camera,
        "rot6d_world": rot6d(quaternion_world),
        "rot6d_camera": rot6d(quaternion_camera),
    }
