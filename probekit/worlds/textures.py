"""Grey-level surface markings that make an object's orientation visible.

The renderer multiplies a texture by the object's colour, so a white/dark pattern shows
as a light and a dark version of that colour. Textures are small PNG files written once per
process into a private temporary folder (pybullet loads textures from files only).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from probekit.worlds.spec import TEXTURES

_SIZE = 64
_DARK = 80


def texture_pixels(name: str) -> np.ndarray:
    """The (64, 64, 3) uint8 grey-level pattern called ``name`` (one of ``TEXTURES``)."""
    img = np.full((_SIZE, _SIZE, 3), 255, dtype=np.uint8)
    rows, cols = np.mgrid[0:_SIZE, 0:_SIZE]
    if name == "halves":
        img[cols < _SIZE // 2] = _DARK
        img[rows < _SIZE // 8] = 140
    elif name == "stripes":
        img[(cols // 8) % 2 == 0] = _DARK
    elif name == "checker":
        img[((rows // 16) + (cols // 16)) % 2 == 0] = _DARK
    elif name == "dot":
        img[(rows - 20) ** 2 + (cols - 24) ** 2 < 12**2] = _DARK
        img[rows > 56] = 120
    else:
        raise ValueError(f"unknown texture {name!r}; valid: {', '.join(TEXTURES)}")
    return img


@lru_cache(maxsize=None)
def _folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="probekit-textures-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@lru_cache(maxsize=None)
def texture_file(name: str) -> str:
    """Path of a PNG file holding :func:`texture_pixels` ``(name)``."""
    from PIL import Image

    path = _folder() / f"{name}.png"
    Image.fromarray(texture_pixels(name)).save(path)
    return str(path)
