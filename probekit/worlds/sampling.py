"""Random draws shared by the scenarios: colours, shapes, materials, camera and light."""

from __future__ import annotations

import colorsys

import numpy as np
from scipy.spatial.transform import Rotation

from probekit.worlds.spec import TEXTURES, CameraSpec, LightSpec

#: Vertical (= horizontal) field of view of every camera, degrees.
FOV_DEG = 45.0
#: Visible width at distance d is ``VIEW_WIDTH * d``.
VIEW_WIDTH = 2.0 * np.tan(np.radians(FOV_DEG) / 2.0)


def color(rng: np.random.Generator, avoid_hue: float | None = None) -> tuple[float, float, float]:
    """A saturated colour; optionally with a hue at least 0.25 away from ``avoid_hue``."""
    hue = rng.uniform()
    if avoid_hue is not None:
        hue = (avoid_hue + rng.uniform(0.25, 0.75)) % 1.0
    rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.6, 1.0), rng.uniform(0.75, 1.0))
    return tuple(float(c) for c in rgb)


def hue_of(rgb: tuple[float, float, float]) -> float:
    """Hue in [0, 1) of an RGB colour."""
    return colorsys.rgb_to_hsv(*rgb)[0]


def texture(rng: np.random.Generator, avoid: str | None = None) -> str:
    """One of :data:`TEXTURES` (different from ``avoid`` if given)."""
    options = [name for name in TEXTURES if name != avoid]
    return str(options[rng.integers(len(options))])


def mass(rng: np.random.Generator) -> float:
    """Log-uniform in [0.2, 5] kg."""
    return float(np.exp(rng.uniform(np.log(0.2), np.log(5.0))))


def gravity(rng: np.random.Generator) -> float:
    """Magnitude of g, uniform in [6, 14] m/s^2."""
    return float(rng.uniform(6.0, 14.0))


def random_orientation(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """A uniformly random orientation quaternion (x, y, z, w)."""
    return tuple(float(q) for q in Rotation.random(random_state=rng).as_quat())


def half_extents(rng: np.random.Generator, shape: str, size: float) -> tuple[float, float, float]:
    """Half extents for a shape whose smallest width is at least ``0.85 * size``."""
    if shape == "sphere":
        r = size / 2 * rng.uniform(0.9, 1.05)
        return (r, r, r)
    if shape == "cylinder":
        r = size / 2 * rng.uniform(0.9, 1.05)
        return (r, r, size / 2 * rng.uniform(0.85, 1.05))
    return tuple(float(size / 2 * rng.uniform(0.85, 1.05)) for _ in range(3))


def camera(rng: np.random.Generator, target, distance: float) -> CameraSpec:
    """A camera on the -y side looking at ``target`` with jittered yaw, elevation and distance."""
    yaw = np.radians(rng.uniform(-4.0, 4.0))
    elevation = np.radians(rng.uniform(6.0, 14.0))
    distance = distance * rng.uniform(0.97, 1.03)
    target = np.asarray(target, dtype=float) + rng.normal(0.0, 0.01 * distance, 3)
    direction = np.array([np.sin(yaw) * np.cos(elevation), -np.cos(yaw) * np.cos(elevation), np.sin(elevation)])
    eye = target + distance * direction
    return CameraSpec(
        eye=tuple(float(v) for v in eye),
        target=tuple(float(v) for v in target),
        fov_deg=FOV_DEG,
        near=0.05,
        far=float(4.0 * distance + 20.0),
    )


def light(rng: np.random.Generator) -> LightSpec:
    """A jittered directional light."""
    return LightSpec(
        direction=(float(rng.uniform(-0.6, 0.6)), float(rng.uniform(-0.9, -0.3)), 1.0),
        ambient=float(rng.uniform(0.55, 0.7)),
        diffuse=float(rng.uniform(0.3, 0.45)),
        specular=0.05,
    )
