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


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) pixel-edge boxes of boolean masks (..., H, W); NaN where empty."""
    rows, cols = masks.any(axis=-1), masks.any(axis=-2)
    h, w = masks.shape[-2:]
    out = np.full(masks.shape[:-2] + (4,), np.nan)
    filled = rows.any(axis=-1)
    out[..., 0] = np.where(filled, np.argmax(cols, axis=-1), np.nan)
    out[..., 1] = np.where(filled, np.argmax(rows, axis=-1), np.nan)
    out[..., 2] = np.where(filled, w - np.argmax(cols[..., ::-1], axis=-1), np.nan)
    out[..., 3] = np.where(filled, h - np.argmax(rows[..., ::-1], axis=-1), np.nan)
    return out


def view_labels(
    position_world: np.ndarray,
    quaternion_world: np.ndarray,
    exists: np.ndarray,
    segmentation: np.ndarray,
    amodal: np.ndarray,
    extrinsic: np.ndarray,
    intrinsic: np.ndarray,
) -> dict[str, np.ndarray]:
    """Camera-frame, image-plane and visibility labels of a clip.

    Parameters
    ----------
    position_world, quaternion_world
        (T, K, 3) and (T, K, 4); NaN for absent slots.
    exists
        (T, K) bool.
    segmentation
        (T, H, W) int8 slot codes of the full renders.
    amodal
        (T, K, H, W) bool silhouettes of each object rendered alone.
    extrinsic, intrinsic
        World -> camera transform and pinhole matrix.
    """
    k = exists.shape[1]
    h, w = segmentation.shape[-2:]
    position_camera = to_camera(position_world, extrinsic)
    position_image = project(position_camera, intrinsic)
    visible_masks = segmentation[:, None] == np.arange(k, dtype=segmentation.dtype)[None, :, None, None]
    visible_pixels = visible_masks.sum(axis=(-2, -1))
    amodal_pixels = amodal.sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        visible_fraction = np.where(amodal_pixels > 0, visible_pixels / amodal_pixels, np.nan)
    x, y = position_image[..., 0], position_image[..., 1]
    inside = np.isfinite(x) & (x >= 0) & (x < w) & np.isfinite(y) & (y >= 0) & (y < h)
    flat = quaternion_world.reshape(-1, 4)
    quaternion_camera = camera_orientation(flat, extrinsic).reshape(quaternion_world.shape)
    return {
        "visible": exists & (visible_pixels > 0),
        "visible_fraction": np.where(exists, visible_fraction, np.nan),
        "out_of_frame": exists & (~inside | (amodal_pixels == 0)),
        "position_camera": position_camera,
        "position_image": position_image,
        "bbox_visible": mask_boxes(visible_masks),
        "bbox_amodal": mask_boxes(amodal),
        "quaternion_camera": quaternion_camera,
        "rot6d_world": rot6d(flat).reshape(exists.shape + (6,)),
        "rot6d_camera": rot6d(quaternion_camera.reshape(-1, 4)).reshape(exists.shape + (6,)),
    }
