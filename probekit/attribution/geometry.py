"""Between the encoder's input pixels and the world file's frame pixels (resize, then centre crop)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from probekit.encoders.base import Geometry


def masks_to_input(masks: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Frame-pixel bool masks ``(..., H, W)`` -> encoder-input bool masks ``(..., h, w)``.

    An input pixel belongs to a mask when at least half of its footprint is covered (the same
    area-weighted resize and crop the labels go through).
    """
    covered = geometry.map_masks(torch.from_numpy(np.ascontiguousarray(masks)).float())
    return (covered >= 0.5).numpy()


def to_frame_pixels(maps: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Encoder-input maps ``(T, h, w)`` -> frame-pixel maps ``(T, H, W)``.

    The map is placed at its crop inside the resized frame (zero outside the crop, which the
    encoder never saw) and resized to the frame's size bilinearly.
    """
    t = maps.shape[0]
    top, left, height, width = geometry.crop
    canvas = torch.zeros((t, 1, *geometry.resized), dtype=torch.float32)
    canvas[:, 0, top : top + height, left : left + width] = torch.from_numpy(np.asarray(maps, dtype=np.float32))
    if tuple(geometry.resized) != tuple(geometry.source):
        canvas = F.interpolate(canvas, size=tuple(geometry.source), mode="bilinear", align_corners=False)
    return canvas[:, 0].numpy()
