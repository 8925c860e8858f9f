"""Simulate and render one clip and collect its ground truth.

Timing: the simulation starts one frame interval before frame 0 (a lead-in), so every frame
``t`` closes an interval of ``substeps`` physics steps ``(t - 1/fps, t]``. Per-interval labels
(``contact_*_interval``, ``impulse``, ``contact_pairs_interval``) cover the substeps of that
interval; per-instant labels describe the state at time ``t / fps``.

Acceleration is state-based: ``(v(t) - v(t - dt)) / dt`` over the last physics substep
``dt = 1 / (fps * substeps)`` of the interval, from the simulator's own velocities. On frames
without a contact impulse it equals the applied gravity exactly (up to float32 storage), except
while an object is ``held`` before its release (then it is zero).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from probekit.worlds.camera import extrinsics, intrinsics
from probekit.worlds.groundtruth import canonical_quaternion, view_labels
from probekit.worlds.physics import PhysicsWorld, StepContacts
from probekit.worlds.render import SceneRenderer
from probekit.worlds.spec import SHAPES, SYMMETRY, ClipSpec

#: Per-frame object labels written under ``objects/`` (each (T, K, ...)).
FRAME_LABELS = (
    "exists", "visible", "visible_fraction", "out_of_frame", "position_world", "position_camera",
    "position_image", "bbox_visible", "bbox_amodal", "velocity_world", "acceleration_world", "impulse", "held",
    "angular_velocity_world", "quaternion_world", "quaternion_camera", "rot6d_world", "rot6d_camera",
    "contact_now", "contact_interval", "contact_ground_now", "contact_ground_interval",
    "contact_object_now", "contact_object_interval", "contact_scenery_now", "contact_scenery_interval",
    "contact_pairs_interval", "normal_force",
)


def simulate_clip(spec: ClipSpec, k_max: int | None = None) -> dict[str, np.ndarray]:
    """Run one clip.

    Parameters
    ----------
    spec
        The clip to simulate (objects in slot order, events applied at their frames).
    k_max
        Number of slots to pad to (default: the number of objects).

    Returns
    -------
    dict
        Arrays keyed by world-file dataset name without the clip axis: ``video/rgb``
        (T, H, W, 3), ``video/depth``, ``video/segmentation``, ``masks/amodal`` (T, K, H, W),
        every ``objects/<label>`` of :data:`FRAME_LABELS` (T, K, ...), per-object constants
        ``objects/shape`` etc. (K, ...), and ``clips/gravity``, ``clips/intrinsics``,
        ``clips/extrinsics``.
    """
    n_obj = len(spec.objects)
    k = n_obj if k_max is None else k_max
    if k < n_obj:
        raise ValueError(f"k_max={k} is smaller than the clip's {n_obj} objects")
    extrinsic = extrinsics(spec.camera)
    intrinsic = intrinsics(spec.camera, spec.image_size)
    clip = _run(spec)
    exists = clip["exists"]
    clip["quaternion_world"] = canonical_quaternion(clip["quaternion_world"])
    clip["contact_now"] = clip["contact_ground_now"] | clip["contact_object_now"] | clip["contact_scenery_now"]
    clip["contact_interval"] = (
        clip["contact_ground_interval"] | clip["contact_object_interval"] | clip["contact_scenery_interval"]
    )
    clip.update(
        view_labels(clip["position_world"], clip["quaternion_world"], exists, clip["segmentation"], clip["amodal"],
                    extrinsic, intrinsic)
    )
    out: dict[str, np.ndarray] = {
        "video/rgb": clip["rgb"],
        "video/depth": clip["depth"],
        "video/segmentation": clip["segmentation"],
        "masks/amodal": _pad(clip["amodal"], k, axis=1, fill=False),
    }
    for name in FRAME_LABELS:
        values = _mask_absent(np.asarray(clip[name]), exists)
        if name == "contact_pairs_interval":
            values = _pad(values, k, axis=2, fill=False)
        out[f"objects/{name}"] = _pad(values, k, axis=1, fill=False if values.dtype == bool else np.nan)
    out.update(object_constants(spec, k))
    out["clips/gravity"] = np.float32(spec.gravity)
    out["clips/intrinsics"] = intrinsic
    out["clips/extrinsics"] = extrinsic
    return out


def _run(spec: ClipSpec) -> dict[str, np.ndarray]:
    """Step, query and render every frame; raw per-frame arrays stacked over time."""
    n_obj = len(spec.objects)
    events = defaultdict(list)
    for event in spec.events:
        events[event.frame].append(event)
    frames: dict[str, list] = defaultdict(list)
    with PhysicsWorld(spec) as physics, SceneRenderer(spec) as renderer:
        for frame in range(spec.n_frames):
            for event in events.get(frame, []):
                physics.apply(event)
                renderer.apply(event)
            interval = StepContacts.empty(n_obj)
            held = physics.held(frame)
            for substep in range(spec.substeps):
                if substep == spec.substeps - 1:
                    previous_velocity = physics.velocities()
                physics.step(held)
                physics.step_contacts(interval)
            state = physics.state()
            now = physics.contacts_now()
            renderer.set_poses(state["position"], state["quaternion"])
            rgb, depth, segmentation, amodal = renderer.render()
            raw = {
                "exists": np.array([body is not None for body in physics.bodies]),
                "held": held,
                "position_world": state["position"],
                "velocity_world": state["velocity"],
                "acceleration_world": (state["velocity"] - previous_velocity) / spec.dt,
                "angular_velocity_world": state["angular_velocity"],
                "quaternion_world": state["quaternion"],
                "impulse": interval.impulse,
                "contact_ground_now": now.ground,
                "contact_object_now": now.other,
                "contact_ground_interval": interval.ground | now.ground,
                "contact_object_interval": interval.other | now.other,
                "contact_scenery_now": now.scenery,
                "contact_scenery_interval": interval.scenery | now.scenery,
                "contact_pairs_interval": interval.pairs | now.pairs,
                "normal_force": interval.normal_force,
                "rgb": rgb, "depth": depth, "segmentation": segmentation, "amodal": amodal,
            }
            for name, value in raw.items():
                frames[name].append(value)

    return {name: np.stack(values) for name, values in frames.items()}


def object_constants(spec: ClipSpec, k: int) -> dict[str, np.ndarray]:
    """Per-object constants (K, ...) of a clip, padded with empty slots."""
    n = len(spec.objects)
    pad = k - n
    shape = np.array([SHAPES.index(o.shape) for o in spec.objects] + [-1] * pad, dtype=np.int8)
    symmetry = np.array([SYMMETRY[o.shape] for o in spec.objects] + [-1] * pad, dtype=np.int8)

    def column(values, width=None):
        arr = np.asarray(values, dtype=np.float64).reshape(n, *(() if width is None else (width,)))
        return _pad(arr, k, axis=0, fill=np.nan)

    return {
        "objects/shape": shape,
        "objects/symmetry": symmetry,
        "objects/half_extents": column([o.half_extents for o in spec.objects], 3),
        "objects/mass": column([o.mass for o in spec.objects]),
        "objects/friction": column([o.friction for o in spec.objects]),
        "objects/restitution": column([o.restitution for o in spec.objects]),
        "objects/color": column([o.color for o in spec.objects], 3),
    }


def _mask_absent(values: np.ndarray, exists: np.ndarray) -> np.ndarray:
    """Absent slots ((T, K) ``exists`` False): NaN for floats, False for booleans."""
    mask = exists.reshape(exists.shape + (1,) * (values.ndim - exists.ndim))
    if values.dtype == bool:
        return values & mask
    return np.where(mask, values.astype(np.float64), np.nan)


def _pad(values: np.ndarray, k: int, axis: int, fill) -> np.ndarray:
    missing = k - values.shape[axis]
    if missing <= 0:
        return values
    widths = [(0, 0)] * values.ndim
    widths[axis] = (0, missing)
    return np.pad(values, widths, constant_values=fill)
