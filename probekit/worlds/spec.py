"""Plain descriptions of a clip: objects, static scenery, camera, lighting and timed events.

A :class:`ClipSpec` is all a simulation needs; scenarios sample one, violations and
counterfactuals derive new ones from it. Nothing here touches pybullet.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from probekit.formats.world import CONTACT_EPSILON

__all__ = ["CONTACT_EPSILON", "CameraSpec", "ClipSpec", "Event", "LightSpec", "ObjectSpec", "SceneryBox"]

#: Shape names and their integer codes in ``objects/shape``.
SHAPES = ("sphere", "box", "cylinder")
#: Symmetry class per shape: 0 full (sphere), 1 axial (cylinder), 2 discrete (box).
SYMMETRY = {"sphere": 0, "cylinder": 1, "box": 2}
#: Surface markings (textures) that make orientation visible.
TEXTURES = ("halves", "stripes", "checker", "dot")


@dataclass(frozen=True)
class ObjectSpec:
    """One dynamic object in a slot.

    ``half_extents`` are (r, r, r) for a sphere, (r, r, h/2) for a cylinder (axis along the
    body's z axis) and the three half sizes for a box. Position is the centre of mass in the
    world frame at the start of the simulation (one frame interval before frame 0).
    ``release_frame`` > 0 holds the object at rest (an upward force equal to its weight) until
    the interval that ends at that frame: it is released at time ``(release_frame - 1) / fps``.
    """

    shape: str
    half_extents: tuple[float, float, float]
    mass: float
    friction: float
    restitution: float
    color: tuple[float, float, float]
    texture: str
    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    angular_velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    release_frame: int = 0

    @property
    def bounding_radius(self) -> float:
        """Radius of a sphere around the centre that contains the whole object."""
        r = np.asarray(self.half_extents, dtype=float)
        if self.shape == "sphere":
            return float(r[0])
        if self.shape == "cylinder":
            return float(np.hypot(r[0], r[2]))
        return float(np.linalg.norm(r))


@dataclass(frozen=True)
class SceneryBox:
    """A static box (ramp, occluder). Segmentation value -2."""

    role: str
    half_extents: tuple[float, float, float]
    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)
    color: tuple[float, float, float] = (0.6, 0.6, 0.6)
    friction: float = 1.0
    restitution: float = 1.0


@dataclass(frozen=True)
class CameraSpec:
    """A pinhole camera looking from ``eye`` at ``target`` (z up), square images."""

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    fov_deg: float = 45.0
    near: float = 0.1
    far: float = 40.0


@dataclass(frozen=True)
class LightSpec:
    """Directional light of pybullet's tiny renderer."""

    direction: tuple[float, float, float] = (0.4, -0.6, 1.0)
    ambient: float = 0.6
    diffuse: float = 0.35
    specular: float = 0.05


@dataclass(frozen=True)
class Event:
    """Something done to the world just before stepping into ``frame``.

    Actions: ``launch`` (slot, velocity, angular_velocity: a scenario's kick, part of the
    original clip), and the violations' ``remove`` (slot), ``disable_collision`` (slot, other),
    ``set_gravity`` (gravity), ``recolor`` (slot, color), ``reshape`` (slot, shape),
    ``teleport`` (slot, offset).
    """

    frame: int
    action: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to simulate and render one clip."""

    scenario: str
    objects: tuple[ObjectSpec, ...]
    scenery: tuple[SceneryBox, ...]
    camera: CameraSpec
    light: LightSpec
    gravity: float
    n_frames: int
    fps: float
    substeps: int
    image_size: int
    ground_friction: float = 1.0
    ground_restitution: float = 1.0
    events: tuple[Event, ...] = ()

    @property
    def dt(self) -> float:
        """Physics time step (one substep), seconds."""
        return 1.0 / (self.fps * self.substeps)

    def replace(self, **changes: Any) -> "ClipSpec":
        """A copy with some fields replaced."""
        return dataclasses.replace(self, **changes)

    def replace_object(self, slot: int, **changes: Any) -> "ClipSpec":
        """A copy with some fields of one object replaced."""
        objects = list(self.objects)
        objects[slot] = dataclasses.replace(objects[slot], **changes)
        return dataclasses.replace(self, objects=tuple(objects))
