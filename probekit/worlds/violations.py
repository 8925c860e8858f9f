"""Violation-of-expectation twins: an impossible clip identical to a possible one up to a frame.

Each function takes the original clip's spec and simulated arrays and returns the twin's spec
(the original plus one :class:`~probekit.worlds.spec.Event`) and a JSON-able ``detail`` dict
that says what the impossible world did. The violation frame is the event's frame: the first
frame whose labels or pixels may differ.

==============  ========  ===============================================================
violation       scenario  what the twin does
==============  ========  ===============================================================
permanence      occlude   the mover vanishes while fully hidden (hidden at the frame
                          before and, in the original, at the violation frame; the
                          original re-emerges later)
solidity        collide   mover and target stop colliding one frame before they touch:
                          the mover passes through
gravity         drop      g changes during free flight (x0.3-0.6 or x1.5-2.0), at least
                          three free frames after the release or launch
immutability    occlude   while fully hidden the mover changes colour, or shape (a sphere
                          or cylinder becomes a cube that slides on with friction 0.05, a
                          box becomes a rolling sphere; position and velocity are kept)
continuity      drop      during free flight the object jumps sideways by at least twice
                          its largest half extent (``min_distance`` in the detail)
==============  ========  ===============================================================
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from probekit.worlds import sampling
from probekit.worlds.rolling import rolling_orientation
from probekit.worlds.spec import ClipSpec, Event

Twin = tuple[ClipSpec, int, dict[str, Any]]


def _hidden_pair_frame(result: dict[str, np.ndarray], slot: int = 0) -> int | None:
    """First frame f such that the slot is fully hidden (in frame) at f - 1 and f, and more than
    half visible again later (so that the original re-emerges)."""
    vf = result["objects/visible_fraction"][:, slot]
    hidden = result["objects/exists"][:, slot] & ~result["objects/out_of_frame"][:, slot] & (vf == 0)
    for frame in range(1, len(hidden)):
        if hidden[frame - 1] and hidden[frame]:
            return frame if (vf[frame + 1:] > 0.5).any() else None
    return None


def _free_fall_frame(spec: ClipSpec, result: dict[str, np.ndarray], rng: np.random.Generator,
                     established: int = 1) -> int | None:
    """A random frame f >= ``established`` of free flight: no contact, impulse or hold at f - ``established`` .. f + 1.

    ``established`` free frames before the violation let a viewer see the motion it breaks: a
    change of g needs three (three positions fix an acceleration), a jump needs one.
    """
    free = ~(result["objects/contact_interval"][:, 0] | result["objects/impulse"][:, 0] | result["objects/held"][:, 0])
    candidates = [f for f in range(established, len(free) - 1) if free[f - established:f + 2].all()]
    if not candidates:
        return None
    return int(candidates[rng.integers(len(candidates))])


def permanence(spec: ClipSpec, result, rng) -> Twin | None:
    """The mover vanishes at the second of two fully hidden frames. None when impossible in this clip."""
    frame = _hidden_pair_frame(result)
    if frame is None:
        return None
    event = Event(frame, "remove", {"slot": 0})
    return spec.replace(events=spec.events + (event,)), frame, {"slot": 0, "action": "vanish"}


def immutability(spec: ClipSpec, result, rng) -> Twin | None:
    """The mover changes colour (half the draws) or shape while fully hidden. None when impossible in this clip."""
    frame = _hidden_pair_frame(result)
    if frame is None:
        return None
    obj = spec.objects[0]
    if rng.uniform() < 0.5:
        color = sampling.color(rng, avoid_hue=sampling.hue_of(obj.color))
        event = Event(frame, "recolor", {"slot": 0, "color": list(color)})
        detail = {"slot": 0, "action": "recolor", "color_before": list(obj.color), "color_after": list(color)}
    else:
        radius = obj.half_extents[2] if obj.shape == "box" else obj.half_extents[0]
        new_shape = "sphere" if obj.shape == "box" else "box"
        extents = [radius, radius, radius]
        # a new box slides on with low friction so that it re-emerges; a new sphere rolls
        friction = 0.05 if new_shape == "box" else obj.friction
        params = {"slot": 0, "shape": new_shape, "half_extents": extents, "friction": friction,
                  "orientation": list(rolling_orientation(new_shape))}
        event = Event(frame, "reshape", params)
        detail = {"slot": 0, "action": "reshape", "shape_before": obj.shape, "shape_after": new_shape,
                  "half_extents_after": extents, "friction_after": friction}
    return spec.replace(events=spec.events + (event,)), frame, detail


def solidity(spec: ClipSpec, result, rng) -> Twin | None:
    """Mover and target stop colliding one frame before they first touch. None when impossible in this clip."""
    touching = result["objects/contact_pairs_interval"][:, 0, 1]
    if not touching.any() or int(np.argmax(touching)) < 2:
        return None
    frame = int(np.argmax(touching)) - 1
    event = Event(frame, "disable_collision", {"slot": 0, "other": 1})
    return spec.replace(events=spec.events + (event,)), frame, {"slot": 0, "other": 1, "action": "pass_through"}


def gravity(spec: ClipSpec, result, rng) -> Twin | None:
    """g changes at a random frame of the free fall, after three free frames fixed the acceleration.

    None when impossible in this clip.
    """
    frame = _free_fall_frame(spec, result, rng, established=3)
    if frame is None:
        return None
    factor = rng.uniform(0.3, 0.6) if rng.uniform() < 0.5 else rng.uniform(1.5, 2.0)
    g_after = float(spec.gravity * factor)
    event = Event(frame, "set_gravity", {"gravity": g_after})
    detail = {"action": "set_gravity", "gravity_before": spec.gravity, "gravity_after": g_after}
    return spec.replace(events=spec.events + (event,)), frame, detail


def continuity(spec: ClipSpec, result, rng) -> Twin | None:
    """The falling object jumps sideways, toward the view centre, at a frame of the free fall. None when impossible in this clip."""
    frame = _free_fall_frame(spec, result, rng)
    if frame is None:
        return None
    obj = spec.objects[0]
    min_distance = 2.0 * max(obj.half_extents)
    distance = min_distance * rng.uniform(1.0, 1.2)
    x_now = result["objects/position_world"][frame - 1, 0, 0]
    direction = -1.0 if x_now > spec.camera.target[0] else 1.0
    offset = [float(direction * distance), 0.0, 0.0]
    event = Event(frame, "teleport", {"slot": 0, "offset": offset})
    detail = {"slot": 0, "action": "teleport", "offset": offset, "distance": float(distance),
              "min_distance": float(min_distance)}
    return spec.replace(events=spec.events + (event,)), frame, detail


#: Violation name -> (scenario it applies to, twin maker).
VIOLATIONS: dict[str, tuple[str, Callable[..., Twin | None]]] = {
    "permanence": ("occlude", permanence),
    "solidity": ("collide", solidity),
    "gravity": ("drop", gravity),
    "immutability": ("occlude", immutability),
    "continuity": ("drop", continuity),
}
