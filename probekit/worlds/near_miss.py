"""Near-miss twins: the same family without the object-object contact, by a visible gap.

A contact label is only worth probing where contact and no contact look alike up to a small
gap. For a ``collide`` or ``stack`` original in which slot 0 touches another object, the twin
changes one thing so that slot 0 never touches another object and the silhouettes of slot 0 and
every other object stay at least :data:`MIN_GAP_PX` background pixels apart in every frame, at
the render size:

- ``collide``: the mover's launch speed is scaled down (x0.8 ... x0.1, the first that keeps the
  gap), so it stops or is still rolling short of the target at the end of the clip;
- ``stack``: the top box is moved sideways, away from the box below, just far enough to land
  beside it (the lower box's half width + its own + a margin of 4-13 pixels at the target's depth).

Each candidate is simulated and checked; when none keeps the gap the family has no twin.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np
from scipy import ndimage

from probekit.worlds.spec import ClipSpec, Event

#: Smallest gap, in background pixels between the silhouettes, of a near-miss twin.
MIN_GAP_PX = 2.0


def silhouette_gap(amodal: np.ndarray, slot: int) -> float:
    """Smallest number of background pixels between slot ``slot``'s silhouette and any other
    object's over a clip's frames ((T, K, H, W) amodal masks; inf if they never share a frame)."""
    best = np.inf
    for masks in amodal:
        if not masks[slot].any():
            continue
        distance = ndimage.distance_transform_edt(~masks[slot])
        for other in range(masks.shape[0]):
            if other != slot and masks[other].any():
                best = min(best, float(distance[masks[other]].min()) - 1.0)
    return best


def _slower(spec: ClipSpec, factor: float) -> ClipSpec:
    """The mover (slot 0) launched with its speed scaled by ``factor``."""
    obj = spec.objects[0]
    scaled = spec.replace_object(
        0, velocity=tuple(float(v * factor) for v in obj.velocity),
        angular_velocity=tuple(float(w * factor) for w in obj.angular_velocity),
    )
    events = []
    for event in spec.events:
        if event.action == "launch" and event.params["slot"] == 0:
            params = dict(event.params)
            params["velocity"] = [float(v * factor) for v in params["velocity"]]
            params["angular_velocity"] = [float(w * factor) for w in params.get("angular_velocity", [0, 0, 0])]
            event = Event(event.frame, event.action, params)
        events.append(event)
    return scaled.replace(events=tuple(events))


def _collide_candidates(spec: ClipSpec) -> Iterator[tuple[ClipSpec, dict[str, Any]]]:
    for factor in (0.8, 0.6, 0.45, 0.3, 0.2, 0.1):
        yield _slower(spec, factor), {"action": "slower", "slot": 0, "factor": factor}


def _metres_per_pixel(spec: ClipSpec) -> float:
    """Width of one pixel at the camera's target distance."""
    distance = float(np.linalg.norm(np.subtract(spec.camera.eye, spec.camera.target)))
    return 2.0 * np.tan(np.radians(spec.camera.fov_deg) / 2.0) * distance / spec.image_size


def _stack_candidates(spec: ClipSpec) -> Iterator[tuple[ClipSpec, dict[str, Any]]]:
    top, lower = spec.objects[0], spec.objects[1]
    offset = top.position[0] - lower.position[0]
    direction = 1.0 if offset >= 0 else -1.0
    pixel = _metres_per_pixel(spec)
    for margin_px in (4.0, 6.0, 9.0, 13.0):
        x = lower.position[0] + direction * (lower.half_extents[0] + top.half_extents[0] + margin_px * pixel)
        moved = spec.replace_object(0, position=(float(x), top.position[1], top.position[2]))
        yield moved, {"action": "shift", "slot": 0, "offset": float(x - top.position[0]), "margin_px": margin_px}


#: Scenario -> generator of candidate twins (spec, detail), most similar first.
NEAR_MISS: dict[str, Callable[[ClipSpec], Iterator[tuple[ClipSpec, dict[str, Any]]]]] = {
    "collide": _collide_candidates,
    "stack": _stack_candidates,
}


def near_miss_twin(spec: ClipSpec, original: dict[str, np.ndarray], k_max: int):
    """The first candidate twin without object contact for slot 0 and a gap of >= 2 px.

    Parameters
    ----------
    spec, original
        The original clip's spec and simulated arrays (slot 0 must touch another object).
    k_max
        Slots to pad to.

    Returns
    -------
    tuple or None
        ``(twin spec, detail, twin arrays)``; None when the original has no object contact for
        slot 0 or no candidate keeps the gap.
    """
    from probekit.worlds.simulate import simulate_clip

    if spec.scenario not in NEAR_MISS or not original["objects/contact_object_interval"][:, 0].any():
        return None
    for candidate, detail in NEAR_MISS[spec.scenario](spec):
        arrays = simulate_clip(candidate, k_max)
        if arrays["objects/contact_object_interval"][:, 0].any():
            continue
        gap = silhouette_gap(arrays["masks/amodal"], 0)
        if gap >= MIN_GAP_PX:
            return candidate, {**detail, "min_gap_px": gap}, arrays
    return None

