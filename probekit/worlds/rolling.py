"""Orientation of bodies that roll along the world x axis."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def rolling_orientation(shape: str, tilt: float = 0.0) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) of a body rolling along +x on a surface tilted by ``tilt``
    about y: a cylinder lies with its axis along y; other shapes are only tilted."""
    rotation = Rotation.from_euler("y", tilt)
    if shape == "cylinder":
        rotation = rotation * Rotation.from_euler("x", np.pi / 2)
    return tuple(float(q) for q in rotation.as_quat())
