"""Scenario families: each samples a :class:`ClipSpec` aimed at one physical concept.

=========  ===============================================================  ==================
scenario   what happens                                                     slots
=========  ===============================================================  ==================
drop       an object falls freely for >= 0.5 s, then bounces on the ground  falling
ramp       a box slides down an incline: a = g (sin t - mu cos t)           sliding
roll       a sphere or cylinder rolls down an incline without slipping:     rolling
           a = 5/7 g sin t (sphere), 2/3 g sin t (cylinder)
collide    a moving object hits a resting one on the ground                 mover, target
occlude    an object passes behind a wall nearer the camera (permanence)    mover
stack      a stack of 2-3 boxes, the top one offset and pushed: topples     top, support, base
=========  ===============================================================  ==================

Sizes are set relative to the camera's view so that every object spans at least 1/8 of the
image width. The simulation starts one frame interval before frame 0 (see
:mod:`probekit.worlds.simulate`).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from probekit.worlds import sampling
from probekit.worlds.rolling import rolling_orientation
from probekit.worlds.spec import ClipSpec, ObjectSpec, SceneryBox

#: Slot roles per scenario (slot order = role order).
SLOT_ROLES: dict[str, list[str]] = {
    "drop": ["falling"],
    "ramp": ["sliding"],
    "roll": ["rolling"],
    "collide": ["mover", "target"],
    "occlude": ["mover"],
    "stack": ["top", "support", "base"],
}

#: Fraction of the visible width spanned by an object (>= 1/8 with margin).
SIZE_FRACTION = (0.17, 0.21)


def substeps_for(fps: float) -> int:
    """Physics substeps per frame: a step of at most 1/480 s, at least 4 substeps.

    Bullet's box-on-box sliding loses contact at 1/240 s steps once the box is fast
    (> ~2 m/s); 1/480 s keeps the ramp's acceleration within 0.1% of g (sin t - mu cos t).
    """
    return max(4, int(math.ceil(480.0 / fps)))


def _base(rng, scenario, frames, fps, size, **fields) -> ClipSpec:
    return ClipSpec(
        scenario=scenario,
        n_frames=frames,
        fps=float(fps),
        substeps=substeps_for(fps),
        image_size=size,
        light=sampling.light(rng),
        **fields,
    )


def _duration(frames: int, fps: float) -> float:
    """Simulated time from the start (lead-in included) to the last frame."""
    return frames / fps


def drop(rng: np.random.Generator, frames: int, fps: float, size: int) -> ClipSpec:
    """An object dropped from rest height so that it falls 0.55-0.65 s within the clip."""
    g = sampling.gravity(rng)
    fall_time = rng.uniform(0.55, 0.65) + 1.0 / fps  # the lead-in interval is before frame 0
    height = 0.5 * g * fall_time**2
    sigma = rng.uniform(*SIZE_FRACTION)
    # visible height (= width) must hold the fall plus the object with a margin
    view = 1.3 * height / (1.0 - 1.3 * 1.25 * sigma)
    distance = view / sampling.VIEW_WIDTH
    shape = str(rng.choice(["sphere", "box", "cylinder"]))
    extents = sampling.half_extents(rng, shape, sigma * view)
    obj = ObjectSpec(
        shape=shape,
        half_extents=extents,
        mass=sampling.mass(rng),
        friction=float(rng.uniform(0.3, 0.8)),
        restitution=float(rng.uniform(0.3, 0.8)),
        color=sampling.color(rng),
        texture=sampling.texture(rng),
        position=(0.0, 0.0, 0.0),
        orientation=sampling.random_orientation(rng),
        velocity=(float(rng.uniform(-0.08, 0.08) * view), 0.0, 0.0),
        angular_velocity=tuple(float(v) for v in rng.uniform(-4.0, 4.0, 3)),
    )
    x0 = float(rng.uniform(-0.08, 0.08) * view)
    obj = ObjectSpec(**{**obj.__dict__, "position": (x0, 0.0, height + obj.bounding_radius)})
    top = height + 2 * obj.bounding_radius
    camera = sampling.camera(rng, (x0, 0.0, 0.45 * top), distance)
    return _base(rng, "drop", frames, fps, size, objects=(obj,), scenery=(), camera=camera, gravity=g)


def _incline(rng, frames, fps, size, scenario: str, shape: str) -> ClipSpec:
    g = sampling.gravity(rng)
    theta = np.radians(rng.uniform(25.0, 35.0))
    if shape == "box":
        friction = float(rng.uniform(0.05, 0.25))
        accel = g * (np.sin(theta) - friction * np.cos(theta))
    else:
        friction = float(rng.uniform(0.6, 0.9))
        accel = g * np.sin(theta) * (5.0 / 7.0 if shape == "sphere" else 2.0 / 3.0)
    tau = _duration(frames, fps)
    v0 = float(rng.uniform(0.0, 0.5))
    travel = v0 * tau + 0.5 * accel * tau**2
    sigma = rng.uniform(*SIZE_FRACTION)
    view = 1.0
    for _ in range(4):  # fixed point: the ramp's length depends on the object's size
        length = (travel + 1.2 * sigma * view) / 0.85
        view = 1.25 * length * max(np.cos(theta), np.sin(theta) + 2 * sigma)
    extents = sampling.half_extents(rng, shape, sigma * view)
    if shape == "box":
        extents = (extents[0], extents[1], extents[2] * 0.8)
    downhill = np.array([np.cos(theta), 0.0, -np.sin(theta)])
    normal = np.array([np.sin(theta), 0.0, np.cos(theta)])
    bottom = np.array([0.5 * length * np.cos(theta), 0.0, 0.0])
    top = bottom - length * downhill
    thickness = 0.08 * view
    ramp = SceneryBox(
        role="ramp",
        half_extents=(length / 2, 0.4 * view, thickness / 2),
        position=tuple(float(v) for v in (top + bottom) / 2 - normal * thickness / 2),
        orientation=tuple(float(q) for q in Rotation.from_euler("y", theta).as_quat()),
        color=(0.55, 0.45, 0.35),
    )
    along = 0.05 * length + (extents[0] if shape == "box" else extents[0] * 1.05)
    radius = extents[2] if shape == "box" else extents[0]
    centre = top + along * downhill + normal * radius
    velocity = v0 * downhill
    spin = (0.0, 0.0, 0.0) if shape == "box" else (0.0, v0 / radius, 0.0)
    orientation = (
        tuple(float(q) for q in Rotation.from_euler("y", theta).as_quat())
        if shape == "box"
        else rolling_orientation(shape, theta)
    )
    obj = ObjectSpec(
        shape=shape,
        half_extents=extents,
        mass=sampling.mass(rng),
        friction=friction,
        restitution=float(rng.uniform(0.0, 0.2)),
        color=sampling.color(rng),
        texture=sampling.texture(rng),
        position=tuple(float(v) for v in centre),
        orientation=orientation,
        velocity=tuple(float(v) for v in velocity),
        angular_velocity=spin,
    )
    target = ((top[0] + bottom[0]) / 2, 0.0, 0.5 * length * np.sin(theta))
    camera = sampling.camera(rng, target, view / sampling.VIEW_WIDTH)
    return _base(rng, scenario, frames, fps, size, objects=(obj,), scenery=(ramp,), camera=camera, gravity=g)


def ramp(rng: np.random.Generator, frames: int, fps: float, size: int) -> ClipSpec:
    """A box sliding down an incline of 25-35 degrees with friction 0.05-0.25."""
    return _incline(rng, frames, fps, size, "ramp", "box")


def roll(rng: np.random.Generator, frames: int, fps: float, size: int) -> ClipSpec:
    """A sphere or cylinder rolling down an incline without slipping (friction 0.6-0.9)."""
    return _incline(rng, frames, fps, size, "roll", str(rng.choice(["sphere", "cylinder"])))


def _ground_mover(rng, shape: str, extents, x: float, speed: float, g: float, tau: float, friction=None) -> ObjectSpec:
    """An object on the ground moving along +x: spheres/cylinders roll, boxes slide."""
    radius = extents[2] if shape == "box" else extents[0]
    if shape == "box":
        friction = float(rng.uniform(0.02, 0.08)) if friction is None else friction
        v0 = speed + 0.5 * friction * g * tau if speed else 0.0
        spin = 0.0
    else:
        friction = float(rng.uniform(0.4, 0.8)) if friction is None else friction
        v0, spin = speed, speed / radius
    return ObjectSpec(
        shape=shape,
        half_extents=extents,
        mass=sampling.mass(rng),
        friction=friction,
        restitution=float(rng.uniform(0.3, 0.9)),
        color=sampling.color(rng),
        texture=sampling.texture(rng),
        position=(float(x), 0.0, float(radius)),
        orientation=rolling_orientation(shape) if shape != "box" else (0.0, 0.0, 0.0, 1.0),
        velocity=(float(v0), 0.0, 0.0),
        angular_velocity=(0.0, float(spin), 0.0),
    )


def collide(rng: np.random.Generator, frames: int, fps: float, size: int) -> ClipSpec:
    """A mover on the ground hits a resting target 35-50% into the clip."""
    g = sampling.gravity(rng)
    distance = rng.uniform(3.5, 4.5)
    view = sampling.VIEW_WIDTH * distance
    tau = _duration(frames, fps)
    shapes = [str(s) for s in rng.choice(["sphere", "box", "cylinder"], 2)]
    extents = [sampling.half_extents(rng, s, rng.uniform(*SIZE_FRACTION) * view) for s in shapes]
    x_mover, x_target = -0.3 * view, 0.08 * view
    gap = x_target - x_mover - extents[0][0] - extents[1][0]
    t_contact = rng.uniform(0.35, 0.5) * tau
    speed = gap / t_contact
    mover = _ground_mover(rng, shapes[0], extents[0], x_mover, speed, g, t_contact)
    if shapes[0] == "box":  # slide the gap in t_contact despite friction
        mover = ObjectSpec(
            **{**mover.__dict__, "velocity": (float(speed + 0.5 * mover.friction * g * t_contact), 0.0, 0.0)}
        )
    target = _ground_mover(rng, shapes[1], extents[1], x_target, 0.0, g, tau)
    height = max(e[2] for e in extents)
    camera = sampling.camera(rng, (-0.05 * view, 0.0, height), distance)
    return _base(rng, "collide", frames, fps, size, objects=(mover, target), scenery=(), camera=camera, gravity=g)


def occlude(rng: np.random.Generator, frames: int, fps: float, size: int) -> ClipSpec:
    """A mover crosses the view behind a wall; it is fully hidden for about 20-40% of the clip."""
    g = sampling.gravity(rng)
    distance = rng.uniform(3.5, 4.5)
    view = sampling.VIEW_WIDTH * distance
    tau = _duration(frames, fps)
    shape = str(rng.choice(["sphere", "box", "cylinder"]))
    extents = sampling.half_extents(rng, shape, rng.uniform(*SIZE_FRACTION) * view)
    half_width = extents[0]
    height = 2 * (extents[2] if shape == "box" else extents[0])
    x_start = 0.42 * view - half_width
    speed = 2 * x_start / tau
    mover = _ground_mover(rng, shape, extents, -x_start, speed, g, tau)
    hidden_frames = max(2, round(0.2 * frames))
    hidden_half = 0.5 * speed * hidden_frames / fps
    wall_offset = 0.22 * distance
    depth = distance * 0.97  # conservative: smallest distance of the camera from the path
    far_scale = (depth - wall_offset) / (depth - half_width)
    near_scale = (depth - wall_offset) / (depth + half_width)
    eye_height = height / 2 + 1.03 * distance * np.sin(np.radians(14.0))
    wall_half_width = far_scale * (hidden_half + half_width) + 0.01 * view
    wall_height = eye_height - (eye_height - 1.15 * height) * near_scale + 0.03 * view
    wall = SceneryBox(
        role="occluder",
        half_extents=(float(wall_half_width), 0.03 * view, float(wall_height / 2)),
        position=(0.0, float(-wall_offset), float(wall_height / 2)),
        color=tuple(float(c) for c in rng.uniform(0.35, 0.65, 3)),
    )
    camera = sampling.camera(rng, (0.0, 0.0, height / 2), distance)
    return _base(rng, "occlude", frames, fps, size, objects=(mover,), scenery=(wall,), camera=camera, gravity=g)


def stack(rng: np.random.Generator, frames: int, fps: float, size: int) -> ClipSpec:
    """Two or three boxes stacked with overhangs of 0.4-1.0 half widths; the top one gets a push of
    0.5-2 m/s toward the overhang, so most stacks topple."""
    g = sampling.gravity(rng)
    distance = rng.uniform(3.5, 4.5)
    view = sampling.VIEW_WIDTH * distance
    count = int(rng.integers(2, 4))
    side = float(rng.choice([-1.0, 1.0]))
    boxes_bottom_up = []
    x, z = 0.0, 0.0
    lower_half = None
    for level in range(count):
        width = rng.uniform(0.16, 0.19) * view
        extents = (width / 2 * rng.uniform(0.9, 1.1), width / 2 * rng.uniform(0.9, 1.1), width / 2 * rng.uniform(0.75, 0.95))
        if lower_half is not None:
            x += side * rng.uniform(0.4, 1.0) * lower_half
        boxes_bottom_up.append((extents, (x, 0.0, z + extents[2])))
        z += 2 * extents[2]
        lower_half = extents[0]
    objects = []
    for slot, (extents, position) in enumerate(reversed(boxes_bottom_up)):
        push = side * rng.uniform(0.5, 2.0) if slot == 0 else 0.0
        objects.append(
            ObjectSpec(
                shape="box",
                half_extents=tuple(float(e) for e in extents),
                mass=sampling.mass(rng),
                friction=float(rng.uniform(0.4, 0.8)),
                restitution=float(rng.uniform(0.05, 0.3)),
                color=sampling.color(rng),
                texture=sampling.texture(rng),
                position=tuple(float(p) for p in position),
                velocity=(float(push), 0.0, 0.0),
            )
        )
    camera = sampling.camera(rng, (x / 2 + side * 0.05 * view, 0.0, 0.45 * z), distance)
    return _base(rng, "stack", frames, fps, size, objects=tuple(objects), scenery=(), camera=camera, gravity=g)


#: Scenario name -> sampler ``f(rng, frames, fps, size) -> ClipSpec``.
SCENARIOS: dict[str, Callable[[np.random.Generator, int, float, int], ClipSpec]] = {
    "drop": drop,
    "ramp": ramp,
    "roll": roll,
    "collide": collide,
    "occlude": occlude,
    "stack": stack,
}
