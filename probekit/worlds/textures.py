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


_shared_folder: Path | None = None


@lru_cache(maxsize=None)
def _folder() -> Path:
    if _shared_folder is not None:  # a worker of generate: the parent's folder, removed by the parent
        return _shared_folder
    folder = Path(tempfile.mkdtemp(prefix="probekit-textures-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def texture_folder() -> str:
    """This process's texture folder, every texture written into it (for :func:`use_texture_folder`)."""
    for name in TEXTURES:
        texture_file(name)
    return str(_folder())


def use_texture_folder(folder: str) -> None:
    """Read textures from ``folder`` (written by :func:`texture_folder` in a parent process).

    Pool workers end without running ``atexit`` handlers, so a folder of their own would outlive
    them; they use the parent's, which the parent removes when it exits.
    """
    global _shared_folder
    _shared_folder = Path(folder)
    _folder.cache_clear()
    texture_file.cache_clear()


@lru_cache(maxsize=None)
def texture_file(name: str) -> str:
    """Path of a PNG file holding :func:`texture_pixels` ``(name)``.

    A file already there is used as it is: generate workers share the parent's folder, written
    whole before they start, and must not rewrite a file another worker may be reading.
    """
    from PIL import Image

    path = _folder() / f"{name}.png"
    if not path.exists():
        Image.fromarray(texture_pixels(name)).save(path)
    return str(path)
