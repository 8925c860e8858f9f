"""``pixels``: the pixel baseline. Frames are resized (area) and centre-cropped to ``size`` and cut
into ``patch x patch`` patches; each token is the patch's RGB values in [0, 1] (D = 3 patch^2).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from probekit.encoders.base import Encoder, EncoderOutput, Geometry, TokenLayout, centre_crop_geometry, tubelet_frames
from probekit.errors import BadOptionError


class PixelsEncoder(Encoder):
    """Downsampled, patchified frames as tokens; one layer (index 0).

    Parameters
    ----------
    size
        Side of the square input after resize and centre crop.
    patch
        Patch side in input pixels; ``size`` must be a multiple of it.
    """

    def __init__(self, name: str = "pixels", size: int = 32, patch: int = 4) -> None:
        if size % patch:
            raise BadOptionError(f"pixels: size {size} is not a multiple of patch {patch}")
        self.name = name
        self.size, self.patch = int(size), int(patch)
        self.init = "pretrained"
        self.weights = "none"
        self.n_layers = 1
        self.layer_names = ["pixels"]
        self.final_norm = False
        self.config = {"size": self.size, "patch": self.patch}
        self.width = 3 * self.patch * self.patch
        self.extra_attrs = {}

    def weight_hash(self) -> str:
        return "none"

    def geometry(self, height: int, width: int) -> Geometry:
        short = min(height, width)
        resized = (round(height * self.size / short), round(width * self.size / short))
        return centre_crop_geometry((height, width), resized, (self.size, self.size))

    def layout(self, n_frames: int, height: int, width: int) -> TokenLayout:
        g = self.size // self.patch
        return TokenLayout(grid=(n_frames, g, g), patch=(self.patch, self.patch), token_frames=tubelet_frames(n_frames, 1), per_frame=True)

    def preprocessing(self) -> dict[str, Any]:
        return {"resize": "area", "size": self.size, "patch": self.patch, "scale": "1/255"}

    @torch.no_grad()
    def encode(self, video: np.ndarray, layers: list[int]) -> EncoderOutput:
        b, t, h, w, _ = video.shape
        geometry = self.geometry(h, w)
        x = torch.from_numpy(np.ascontiguousarray(video)).reshape(b * t, h, w, 3).permute(0, 3, 1, 2).float() / 255.0
        if geometry.resized != (h, w):
            x = F.interpolate(x, size=geometry.resized, mode="area")
        top, left, ch, cw = geometry.crop
        x = x[..., top : top + ch, left : left + cw]
        g, p = self.size // self.patch, self.patch
        # (BT, 3, g, p, g, p) -> (BT, g, g, p, p, 3): each token is its patch in row-major (py, px, rgb) order
        x = x.reshape(b * t, 3, g, p, g, p).permute(0, 2, 4, 3, 5, 1).reshape(b, t, g, g, p * p * 3)
        return EncoderOutput({0: x.to(self.device)})


def create_pixels_encoder(name: str = "pixels", init: str = "pretrained", *, size: int = 32, patch: int = 4, **_: Any) -> Encoder:
    """Factory of the ``pixels`` baseline (``init`` has no effect: there are no weights)."""
    return PixelsEncoder(name, size=size, patch=patch)
