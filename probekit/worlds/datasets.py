"""The world file's datasets: storage dtype, unit and description (see ``docs/formats.md``)."""

from __future__ import annotations

import numpy as np

from probekit.worlds.spec import CONTACT_EPSILON

_EPS = f"surfaces within {CONTACT_EPSILON} m (penetration counts), speculative points excluded"

#: name -> (dtype, unit, description) of every per-clip array produced by a simulation.
ARRAYS: dict[str, tuple[str, str, str]] = {
    "video/rgb": ("uint8", "1", "rendered frames (ER_TINY_RENDERER, shadows on), one clip per chunk"),
    "video/depth": ("float32", "m", "z-depth in the camera frame; the far plane where nothing is drawn"),
    "video/segmentation": ("int8", "1", "slot index of the visible object; -1 background and ground, -2 scenery"),
    "masks/amodal": ("bool", "1", "each object's full silhouette, rendered alone"),
    "objects/exists": ("bool", "1", "slot holds an object at this frame"),
    "objects/visible": ("bool", "1", "at least one visible pixel"),
    "objects/visible_fraction": ("float32", "1", "visible pixels / amodal pixels; NaN when the amodal mask is empty"),
    "objects/out_of_frame": ("bool", "1", "projected centre outside the image, or amodal mask empty, while existing"),
    "objects/position_world": ("float32", "m", "centre of mass, world frame (z up)"),
    "objects/position_camera": ("float32", "m", "centre of mass, camera frame (OpenCV: x right, y down, z forward)"),
    "objects/position_image": ("float32", "px", "projected centre of mass (x, y), origin at the image's top-left corner"),
    "objects/bbox_visible": ("float32", "px", "(x0, y0, x1, y1) pixel-edge box of the visible mask; NaN if not visible"),
    "objects/bbox_amodal": ("float32", "px", "(x0, y0, x1, y1) pixel-edge box of the amodal mask; NaN if empty"),
    "objects/velocity_world": ("float32", "m/s", "linear velocity of the centre of mass, world frame"),
    "objects/acceleration_world": (
        "float32", "m/s^2", "linear acceleration, world frame, state-based (see attribute method)"),
    "objects/impulse": ("bool", "1", "the solver applied a contact normal impulse within the frame interval"),
    "objects/angular_velocity_world": ("float32", "rad/s", "angular velocity, world frame"),
    "objects/quaternion_world": ("float32", "1", "orientation (x, y, z, w), world frame, w >= 0"),
    "objects/quaternion_camera": ("float32", "1", "orientation (x, y, z, w), camera frame, w >= 0"),
    "objects/rot6d_world": ("float32", "1", "first two rotation-matrix columns (r00, r10, r20, r01, r11, r21), world"),
    "objects/rot6d_camera": ("float32", "1", "first two rotation-matrix columns, camera frame"),
    "objects/contact_now": ("bool", "1", f"touching anything at the frame instant: {_EPS}"),
    "objects/contact_interval": ("bool", "1", f"touching anything at any substep of the interval ending here: {_EPS}"),
    "objects/contact_ground_now": ("bool", "1", "touching the ground at the frame instant"),
    "objects/contact_ground_interval": ("bool", "1", "touching the ground within the interval"),
    "objects/contact_object_now": ("bool", "1", "touching another object or scenery at the frame instant"),
    "objects/contact_object_interval": ("bool", "1", "touching another object or scenery within the interval"),
    "objects/contact_pairs_interval": ("bool", "1", "[k, j]: slot k touches slot j within the interval"),
    "objects/normal_force": ("float32", "N", "total contact normal force of the last substep before the frame"),
    "objects/shape": ("int8", "1", "0 sphere, 1 box, 2 cylinder, -1 empty slot (shape at the start)"),
    "objects/symmetry": ("int8", "1", "0 full (sphere), 1 axial (cylinder), 2 discrete (box), -1 empty"),
    "objects/half_extents": ("float32", "m", "(r, r, r) sphere, (r, r, h/2) cylinder along body z, box half sizes"),
    "objects/mass": ("float32", "kg", "mass"),
    "objects/friction": ("float32", "1", "lateral friction (ground and scenery use 1.0; Bullet multiplies)"),
    "objects/restitution": ("float32", "1", "restitution (ground and scenery use 1.0; Bullet multiplies)"),
    "objects/color": ("float32", "1", "base RGB in [0, 1] (at the start)"),
    "clips/gravity": ("float32", "m/s^2", "magnitude of g at the start of the simulation"),
    "clips/intrinsics": ("float32", "px", "pinhole K"),
    "clips/extrinsics": ("float32", "m", "world -> camera (OpenCV) transform"),
}

#: name -> (unit, description) of the per-clip metadata columns (strings unless stated).
META: dict[str, tuple[str, str]] = {
    "clip_id": ("", "globally unique id: <family_id>-o | -v.<violation> | -c.<factor>"),
    "family_id": ("", "<scenario>-<seed hex>-<options tag>[r<attempt>], shared by a clip and its twins"),
    "scenario": ("", "drop, ramp, roll, collide, occlude, stack"),
    "kind": ("", "original, violation or counterfactual"),
    "violation": ("", "violation type or empty"),
    "violation_frame": ("frame", "first frame that differs from the original, -1 if none"),
    "counterfactual_factor": ("", "changed factor or empty"),
    "seed": ("", "per-clip seed (numpy SeedSequence child of the run seed)"),
    "detail": ("", "JSON: what the violation or counterfactual changed ({} for originals)"),
    "content_hash": ("", "sha256 of the clip's pixels and labels"),
}

#: Attribute ``method`` of ``objects/acceleration_world``.
ACCELERATION_METHOD = (
    "state-based backward difference over the last physics substep before the frame: "
    "(v(t) - v(t - dt)) / dt with dt = 1 / (fps * substeps), from the simulator's velocities"
)


def to_storage(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Cast a clip's arrays to their storage dtypes."""
    return {name: np.asarray(value).astype(ARRAYS[name][0]) for name, value in arrays.items()}
