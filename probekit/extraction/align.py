"""Labels aligned to the token grid.

Rules (documented in ``docs/formats.md``):

- Per-frame continuous targets are taken at each token step's mid-time (the mean of its first and
  last frame) by linear interpolation between the neighbouring frames; NaN stays NaN.
- Per-frame binary targets are "any within the span" of the token step.
- Image-space targets (``position_image``, ``bbox_*``) are mapped into the encoder's input pixels
  (after its resize and centre crop) first; intrinsics likewise.
- Masks go through the same resize and crop, then each token's coverage is the fraction of its
  pixels covered, averaged over the frames of its step.
"""

from __future__ import annotations

import numpy as np
import torch

from probekit.encoders.base import Geometry, TokenLayout, area_weights
from probekit.sources.base import PER_CLIP_OBJECTS

_IMAGE_POINTS = {"position_image"}
_IMAGE_BOXES = {"bbox_visible", "bbox_amodal"}


def at_mid_time(values: np.ndarray, token_frames: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``values`` (B, T, ...) at each token step's mid-time -> (B, T', ...)."""
    mid = token_frames.mean(axis=1)
    lo = np.floor(mid).astype(int)
    hi = np.minimum(lo + 1, values.shape[1] - 1)
    w = (mid - lo).astype(np.float32).reshape((1, -1) + (1,) * (values.ndim - 2))
    lo_v = values[:, lo].astype(np.float32)
    hi_v = values[:, hi].astype(np.float32)
    out = lo_v * (1 - w) + hi_v * w
    exact = (w == 0).reshape(-1) if w.size else w
    out[:, exact] = lo_v[:, exact]  # no mixing with the next frame when the mid-time is a frame
    return out


def any_in_span(values: np.ndarray, token_frames: np.ndarray) -> np.ndarray:
    """Whether a binary target (B, T, ...) holds at any frame of each token step -> (B, T', ...)."""
    return np.stack([values[:, a : b + 1].any(axis=1) for a, b in token_frames], axis=1)


def token_coverage(masks: np.ndarray, geometry: Geometry, layout: TokenLayout) -> np.ndarray:
    """Fraction of each token covered by each mask.

    Parameters
    ----------
    masks
        (B, T, K, H, W) bool in source pixels.
    geometry, layout
        The encoder's input geometry and token layout.

    Returns
    -------
    numpy.ndarray
        (B, T', K, H', W') float32 in [0, 1].
    """
    b, t, k, height, width = masks.shape
    _, gh, gw = layout.grid
    ph, pw = layout.patch
    top, left = geometry.crop[:2]
    # resize (area weights), crop and average over each patch, folded into one matrix per axis
    rows = area_weights(height, geometry.resized[0])[top : top + gh * ph].reshape(gh, ph, height).mean(dim=1)
    cols = area_weights(width, geometry.resized[1])[left : left + gw * pw].reshape(gw, pw, width).mean(dim=1)
    n = b * t * k
    flat = torch.from_numpy(np.ascontiguousarray(masks)).reshape(n * height, width).to(torch.float32)
    cols_done = torch.matmul(flat, cols.T).reshape(n, height, gw).transpose(1, 2).reshape(n * gw, height)
    per_frame = torch.matmul(cols_done, rows.T).reshape(b, t, k, gw, gh).transpose(-1, -2).numpy()
    return np.stack([per_frame[:, a : e + 1].mean(axis=1) for a, e in layout.token_frames], axis=1)


def visible_masks(segmentation: np.ndarray, k_max: int) -> np.ndarray:
    """(B, T, H, W) slot-index segmentation -> (B, T, K, H, W) bool visible masks."""
    return np.stack([segmentation == k for k in range(k_max)], axis=2)


def map_intrinsics(intrinsics: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Pinhole K (..., 3, 3) in source pixels -> the encoder's input pixels."""
    sy, sx = geometry.scale
    top, left = geometry.crop[:2]
    out = np.array(intrinsics, dtype=np.float32, copy=True)
    out[..., 0, :] *= sx
    out[..., 1, :] *= sy
    out[..., 0, 2] -= left
    out[..., 1, 2] -= top
    return out


def align_world_labels(raw: dict[str, np.ndarray], geometry: Geometry, layout: TokenLayout, k_max: int) -> dict[str, np.ndarray]:
    """Store labels (names as in ``docs/formats.md``) from the raw world labels of a batch.

    Per-frame ``objects/<name>`` (B, T, K, ...) -> ``<name>`` (B, T', K, ...); per-clip object
    constants and numeric ``clips/<name>`` -> ``clip/<name>``; masks -> ``token_coverage`` (visible)
    and ``token_coverage_amodal``.
    """
    out: dict[str, np.ndarray] = {}
    n_frames = raw["video/segmentation"].shape[1] if "video/segmentation" in raw else int(layout.token_frames[-1, 1]) + 1
    for key, values in raw.items():
        group, name = key.split("/", 1)
        if group == "objects":
            per_frame = name not in PER_CLIP_OBJECTS and n_frames is not None and values.ndim >= 3 and values.shape[1] == n_frames and values.shape[2] == k_max
            if per_frame and name in _IMAGE_POINTS:
                values = geometry.map_xy(values)
            elif per_frame and name in _IMAGE_BOXES:
                values = geometry.map_boxes(values)
            if not per_frame:
                out[f"clip/{name}"] = values
            elif values.dtype == bool:
                out[name] = any_in_span(values, layout.token_frames)
            else:
                out[name] = at_mid_time(values, layout.token_frames)
        elif group == "clips":
            out[f"clip/{name}"] = map_intrinsics(values, geometry) if name == "intrinsics" else values
    if "video/segmentation" in raw and k_max:
        out["token_coverage"] = token_coverage(visible_masks(raw["video/segmentation"], k_max), geometry, layout).astype(np.float16)
    if "masks/amodal" in raw and k_max:
        out["token_coverage_amodal"] = token_coverage(raw["masks/amodal"], geometry, layout).astype(np.float16)
    return out
