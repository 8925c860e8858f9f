"""Small world files in the documented layout (docs/formats.md), written with h5py.

Two axis-aligned squares per clip move at constant pixel velocity over a plain background; the
segmentation, amodal masks, image positions and boxes are exact, so label alignment can be
checked against an independent computation. Used until ``probekit generate`` is available.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from probekit.h5io import atomic_h5, string_array


def write_square_world(path: Path, n_clips: int = 4, n_frames: int = 16, size: int = 64, k_max: int = 2, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    rgb = np.zeros((n_clips, n_frames, size, size, 3), np.uint8)
    seg = np.full((n_clips, n_frames, size, size), -1, np.int8)
    amodal = np.zeros((n_clips, n_frames, k_max, size, size), bool)
    pos_img = np.zeros((n_clips, n_frames, k_max, 2), np.float32)
    bbox = np.full((n_clips, n_frames, k_max, 4), np.nan, np.float32)
    vel = np.zeros((n_clips, n_frames, k_max, 3), np.float32)
    contact = np.zeros((n_clips, n_frames, k_max), bool)
    exists = np.ones((n_clips, n_frames, k_max), bool)
    rgb[...] = rng.integers(0, 40, size=(n_clips, 1, 1, 1, 3), dtype=np.uint8)
    for c in range(n_clips):
        for k in range(k_max):
            side = int(rng.integers(8, 16))
            x0, y0 = rng.uniform(0, size - side, 2)
            vx, vy = rng.uniform(-1.5, 1.5, 2)
            colour = rng.integers(80, 255, 3, dtype=np.uint8)
            for t in range(n_frames):
                x = int(np.clip(round(x0 + vx * t), 0, size - side))
                y = int(np.clip(round(y0 + vy * t), 0, size - side))
                amodal[c, t, k, y : y + side, x : x + side] = True
                seg[c, t, y : y + side, x : x + side] = k  # later slots drawn on top
                rgb[c, t, y : y + side, x : x + side] = colour
                pos_img[c, t, k] = (x + side / 2, y + side / 2)
                vel[c, t, k] = (vx, vy, 0.1 * t * (k + 1))
                contact[c, t, k] = t % 5 == k
        for k in range(k_max):
            for t in range(n_frames):
                ys, xs = np.nonzero(seg[c, t] == k)
                if len(xs):
                    bbox[c, t, k] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    visible = np.stack([(seg == k).any(axis=(2, 3)) for k in range(k_max)], axis=2)
    attrs = {"n_clips": n_clips, "n_frames": n_frames, "image_size": size, "fps": 30.0, "k_max": k_max, "seed": seed}
    with atomic_h5(path, "world", attrs) as f:
        f.create_dataset("video/rgb", data=rgb, chunks=(1, n_frames, size, size, 3))
        f.create_dataset("video/segmentation", data=seg)
        f.create_dataset("masks/amodal", data=amodal)
        f.create_dataset("objects/exists", data=exists)
        f.create_dataset("objects/visible", data=visible)
        f.create_dataset("objects/position_image", data=pos_img)
        f.create_dataset("objects/bbox_visible", data=bbox)
        f.create_dataset("objects/velocity_world", data=vel)
        f.create_dataset("objects/contact_interval", data=contact)
        f.create_dataset("objects/mass", data=rng.uniform(0.5, 2, (n_clips, k_max)).astype(np.float32))
        f.create_dataset("objects/half_extents", data=rng.uniform(0.05, 0.2, (n_clips, k_max, 3)).astype(np.float32))
        f.create_dataset("clips/clip_id", data=string_array([f"clip{c:04d}" for c in range(n_clips)]))
        f.create_dataset("clips/family_id", data=string_array([f"fam{c // 2:04d}" for c in range(n_clips)]))
        f.create_dataset("clips/scenario", data=string_array(["drop"] * n_clips))
        f.create_dataset("clips/kind", data=string_array(["original"] * n_clips))
        f.create_dataset("clips/gravity", data=np.full(n_clips, 9.81, np.float32))
        f.create_dataset("clips/content_hash", data=string_array([f"h{c}-{seed}" for c in range(n_clips)]))
    return path
