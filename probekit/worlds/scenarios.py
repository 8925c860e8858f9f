"""Scenario families: each samples a :class:`ClipSpec` aimed at one physical concept.

=========  ===============================================================  ==================
scenario   what happens                                                     slots
=========  ===============================================================  ==================
drop       an object is released in mid-air at a random frame, or rests     falling
           on the ground and is launched upward at a random frame; it
           flies freely, lands and bounces
ramp       a box slides on a gentle incline: up it, slowing, turning        sliding
           around at a random time and sliding back, or down it from the
           start: a = g (sin t -/+ mu cos t)
roll       a sphere or cylinder rolls up or down a gentle incline without   rolling
           slipping, turning around at a random time:
           a = 5/7 g sin t (sphere), 2/3 g sin t (cylinder)
collide    a mover, launched at a random frame (or dropped in), slides or   mover, target
           rolls into a resting box and pushes it; some miss it by a gap
occlude    an object passes behind a wall nearer the camera (permanence)    mover
stack      boxes held above a base box are released at random frames and    top, support, base
           land on it (offset: some topple; some miss it beside it), or
           a resting stack is taken apart: each box (the base too) is
           pushed at its own random frame; the base stands on the ground
           or on a pedestal
=========  ===============================================================  ==================

Event timing is random so that the frame index does not reveal it: release frames, launch
frames and speeds, drop heights, start positions and directions (left or right) are drawn
per clip. g is drawn independently of everything else (uniform in [6, 14] m/s^2) in drop, ramp,
roll and stack, whose free flight or slopes show it; collide and occlude keep g = 9.81 m/s^2
(their horizontal motion shows g only through friction, which looks the same); scene scale
(camera distance 3.5-4.5 m) and object sizes (a fraction of the view) never depend on g, so a
larger g shows as a larger image-space acceleration. Sizes are set relative to the camera's
view so that every object spans at least 1/8 of the image width. The simulation starts one
frame interval before frame 0 (see :mod:`probekit.worlds.simulate`).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from probekit.worlds import sampling
from probekit.worlds.rolling import rolling_orientation
from probekit.worlds.spec import ClipSpec, Event, ObjectSpec, SceneryBox

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


#: g in the scenarios whose motion is horizontal (collide, occlude): there g shows only through
#: friction, which the pixels do not tell apart from g, so it is not varied.
FIXED_GRAVITY = 9.81
#: Scenarios whose g is drawn per clip (their motion shows it: free flight or a slope).
GRAVITY_VARIED = ("drop", "ramp", "roll", "stack")


def _fixed_gravity(rng: np.random.Generator) -> float:
    """:data:`FIXED_GRAVITY`; the varied scenarios' draw is made and dropped so that a seed's other draws stay the same."""
    sampling.gravity(rng)
    return FIXED_GRAVITY


def _duration(frames: int, fps: float) -> float:
    """Simulated time from the start (lead-in included) to the last frame."""
    return frames / fps


def _view(rng: np.random.Generator) -> tuple[float, float]:
    """Camera distance (3.5-4.5 m, independent of g) and the visible width at that distance."""
    distance = float(rng.uniform(3.5, 4.5))
    return distance, sampling.VIEW_WIDTH * distance


def _rest_height(shape: str, extents) -> float:
    """Height of the centre of an object resting upright on the ground (cylinders on their side)."""
    return float(extents[2] if shape == "box" else extents[0])


def _with(obj: ObjectSpec, **changes) -> ObjectSpec:
    return ObjectSpec(**{**obj.__dict__, **changes})


def _launch(frame: int, slot: int, velocity, angular_velocity=(0.0, 0.0, 0.0)) -> Event:
    return Event(int(frame), "launch", {"slot": slot, "velocity": [float(v) for v in velocity],
                                        "angular_velocity": [float(w) for w in angular_velocity]})


def drop(rng: np.random.Generator, frames: int, fps: float, size: int) -> ClipSpec:
    """Free flight under g: released in mid-air at a random frame (half the clips) or launched
    upward from rest on the ground at a random frame (the other half)."""
    g = sampling.gravity(rng)
    distance, view = _view(rng)
    sigma = rng.uniform(*SIZE_FRACTION)
    shape = str(rng.choice(["sphere", "box", "cylinder"]))
    extents = sampling.half_extents(rng, shape, sigma * view)
    top_z = 0.82 * view  # highest point the object may reach (stays in view)
    x0 = float(rng.uniform(-0.15, 0.15) * view)
    vx = float(rng.uniform(-0.6, 0.6))
    obj = ObjectSpec(
        shape=shape, half_extents=extents, mass=sampling.mass(rng), friction=float(rng.uniform(0.3, 0.8)),
        restitution=float(rng.uniform(0.3, 0.8)), color=sampling.color(rng), texture=sampling.texture(rng),
        position=(0.0, 0.0, 0.0),
    )
    radius = obj.bounding_radius
    events: tuple[Event, ...] = ()
    if rng.uniform() < 0.5:  # held in mid-air, released at a random frame, maybe tossed
        z0 = float(rng.uniform(0.25, 0.7) * view + radius)
        vz = float(rng.uniform(-0.5, 1.5))
        vz = min(vz, float(np.sqrt(max(0.0, 2 * g * (top_z - radius - z0)))))
        release = int(rng.integers(0, max(1, frames - 4)))
        obj = _with(obj, position=(x0, 0.0, z0), orientation=sampling.random_orientation(rng),
                    velocity=(vx, 0.0, vz), angular_velocity=tuple(float(v) for v in rng.uniform(-4.0, 4.0, 3)),
                    release_frame=release)
        if release > 0:  # held objects start at rest; the toss happens at the release
            obj = _with(obj, velocity=(0.0, 0.0, 0.0), angular_velocity=(0.0, 0.0, 0.0))
            events = (_launch(release, 0, (vx, 0.0, vz), rng.uniform(-4.0, 4.0, 3)),)
    else:  # at rest on the ground, launched upward at a random frame
        rest = _rest_height(shape, extents)
        orientation = rolling_orientation(shape) if shape == "cylinder" else (0.0, 0.0, 0.0, 1.0)
        obj = _with(obj, position=(x0, 0.0, rest), orientation=orientation)
        vz = float(rng.uniform(2.0, 4.0))
        vz = min(vz, float(np.sqrt(2 * g * (top_z - radius - rest))))
        launch = int(rng.integers(1, max(2, frames - 4)))
        events = (_launch(launch, 0, (vx, 0.0, vz), rng.uniform(-4.0, 4.0, 3)),)
    camera = sampling.camera(rng, (x0, 0.0, 0.4 * view), distance)
    return _base(rng, "drop", frames, fps, size, objects=(obj,), scenery=(), camera=camera, gravity=g,
                 events=events)


#: Incline angles (degrees): gentle, so that a turn-around on the slope fits on the ramp.
INCLINE_DEGREES = (3.0, 8.0)
#: Turn-around time on an incline, as a fraction of the clip's duration (outside [0, 1]: the
#: object moves one way for the whole clip).
TURN_AROUND = (-0.5, 1.5)


def _along_slope(t: np.ndarray, turn: float, a_up: float, a_down: float) -> np.ndarray:
    """Distance moved down the slope at times ``t`` by an object that turns around at ``turn``."""
    if turn <= 0:  # moving down from the start, already past its turn-around
        return a_down * ((t - turn) ** 2 - turn**2) / 2
    up = -a_up * (np.minimum(t, turn) * turn - np.minimum(t, turn) ** 2 / 2)
    return up + a_down * np.maximum(t - turn, 0.0) ** 2 / 2


def _incline(rng, frames, fps, size, scenario: str, shape: str) -> ClipSpec:
    """An object on a gentle incline, moving from the start: up the slope (it slows, turns around
    at a random time and comes back down) or already down it. Speed then depends on the turn-around
    time, not on the frame index; the whole path stays on the ramp."""
    g = sampling.gravity(rng)
    distance, view = _view(rng)
    theta = float(np.radians(rng.uniform(*INCLINE_DEGREES)))
    side = float(rng.choice([-1.0, 1.0]))  # downhill along +x or -x
    if shape == "box":
        friction = float(rng.uniform(0.1, 0.6) * np.tan(theta))  # below tan(theta): it slides back down
        a_down = g * (np.sin(theta) - friction * np.cos(theta))
        a_up = g * (np.sin(theta) + friction * np.cos(theta))  # decelerating while moving uphill
    else:
        friction = float(rng.uniform(0.6, 0.9))
        a_down = a_up = g * np.sin(theta) * (5.0 / 7.0 if shape == "sphere" else 2.0 / 3.0)
    sigma = rng.uniform(*SIZE_FRACTION)
    extents = sampling.half_extents(rng, shape, sigma * view)
    if shape == "box":
        extents = (extents[0], extents[1], extents[2] * 0.8)
    length = float(min(0.75 * view / np.cos(theta), 0.6 * view / np.sin(theta)) * rng.uniform(0.85, 1.0))
    downhill = np.array([side * np.cos(theta), 0.0, -np.sin(theta)])
    normal = np.array([side * np.sin(theta), 0.0, np.cos(theta)])
    bottom = np.array([side * 0.35 * view, 0.0, 0.0])
    top = bottom - length * downhill
    thickness = 0.08 * view
    tilt = side * theta
    ramp = SceneryBox(
        role="ramp",
        half_extents=(length / 2, 0.4 * view, thickness / 2),
        position=tuple(float(v) for v in (top + bottom) / 2 - normal * thickness / 2),
        orientation=tuple(float(q) for q in Rotation.from_euler("y", tilt).as_quat()),
        color=(0.55, 0.45, 0.35),
    )
    half_along = extents[0] if shape == "box" else extents[0] * 1.05
    margin = half_along + 0.02 * length
    duration = _duration(frames, fps) + 1.0 / fps  # the lead-in frame included
    times = np.linspace(0.0, duration, 64)
    for _ in range(50):  # a turn-around time whose whole path fits on the ramp
        turn = float(rng.uniform(*TURN_AROUND) * duration)
        path = _along_slope(times, turn, a_up, a_down)
        low, high = margin - path.min(), length - margin - path.max()
        if low <= high:
            break
    along = float(rng.uniform(low, high)) if low <= high else float(np.clip(low, margin, length - margin))
    v0 = -a_up * turn if turn > 0 else a_down * -turn  # signed speed down the slope at the start
    radius = extents[2] if shape == "box" else extents[0]
    centre = top + along * downhill + normal * radius
    orientation = (
        tuple(float(q) for q in Rotation.from_euler("y", tilt).as_quat())
        if shape == "box"
        else rolling_orientation(shape, tilt)
    )
    velocity = v0 * downhill
    spin = (0.0, 0.0, 0.0) if shape == "box" else (0.0, side * v0 / radius, 0.0)
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
    target = ((top[0] + bottom[0]) / 2 + side * 0.08 * view, 0.0, 0.4 * view)
    camera = sampling.camera(rng, target, distance)
    return _base(rng, scenario, frames, fps, size, objects=(obj,), scenery=(ramp,), camera=camera, gravity=g)


def ramp(rng: np.random.Generator, frames: int, fps: float, size: int) -> ClipSpec:
    """A box sliding on an incline of 3-8 degrees (friction 0.1-0.6 of tan t): up the slope, turning around, or down it."""
    return _incline(rng, frames, fps, size, "ramp", "box")


def roll(rng: np.random.Generator, frames: int, fps: float, size: int) -> ClipSpec:
    """A sphere or cylinder rolling without slipping (friction 0.6-0.9) up or down an incline of 3-8 degrees."""
    return _incline(rng, frames, fps, size, "roll", str(rng.choice(["sphere", "cylinder"])))


def _ground_mover(rng, shape: str, extents, x: float, speed: float, friction=None, restitution=None) -> ObjectSpec:
    """An object resting on the ground, with a velocity along x: spheres/cylinders roll, boxes slide."""
    radius = extents[2] if shape == "box" else extents[0]
    if shape == "box":
        friction = float(rng.uniform(0.02, 0.08)) if friction is None else friction
        spin = 0.0
    else:
        friction = float(rng.uniform(0.4, 0.8)) if friction is None else friction
        spin = speed / radius
    return ObjectSpec(
        shape=shape,
        half_extents=extents,
        mass=sampling.mass(rng),
        friction=friction,
        restitution=float(rng.uniform(0.3, 0.9)) if restitution is None else restitution,
        color=sampling.color(rng),
        texture=sampling.texture(rng),
        position=(float(x), 0.0, float(radius)),
        orientation=rolling_orientation(shape) if shape != "box" else (0.0, 0.0, 0.0, 1.0),
        velocity=(float(speed), 0.0, 0.0),
        angular_velocity=(0.0, float(spin), 0.0),
    )


#: Share of collide clips whose mover starts against the box and is launched away from it.
SEPARATING_SHARE = 1.0 / 3.0


def collide(rng: np.random.Generator, frames: int, fps: float, size: int) -> ClipSpec:
    """A mover, launched at a random frame (or dropped in while moving), hits a resting box and
    pushes it (low restitution; the box has the higher friction); some movers fall short. In a
    third of the clips the mover starts at rest against the box and is launched away from it at
    a random frame: contact starts at a random frame in the first kind and ends at one in the second."""
    g = _fixed_gravity(rng)
    distance, view = _view(rng)
    tau = _duration(frames, fps)
    side = float(rng.choice([-1.0, 1.0]))
    mover_shape = str(rng.choice(["sphere", "box", "cylinder"]))
    e_mover = sampling.half_extents(rng, mover_shape, rng.uniform(*SIZE_FRACTION) * view)
    e_target = sampling.half_extents(rng, "box", rng.uniform(*SIZE_FRACTION) * view)
    x_mover = -side * float(rng.uniform(0.28, 0.42)) * view
    x_target = side * float(rng.uniform(-0.05, 0.22)) * view
    gap = abs(x_target - x_mover) - e_mover[0] - e_target[0]
    launch = int(rng.integers(1, max(2, frames // 2))) if rng.uniform() < 0.5 else 0
    t_travel = float(rng.uniform(0.15, 1.3)) * tau  # beyond the clip's end: no contact
    speed = gap / t_travel
    mover = _ground_mover(rng, mover_shape, e_mover, x_mover, 0.0, restitution=float(rng.uniform(0.0, 0.2)))
    if mover_shape == "box":  # slide the gap in t_travel despite friction
        speed = speed + 0.5 * mover.friction * g * t_travel
    velocity = (side * speed, 0.0, 0.0)
    spin = (0.0, 0.0 if mover_shape == "box" else side * speed / e_mover[0], 0.0)
    events: tuple[Event, ...] = ()
    if launch == 0:
        lift = float(rng.uniform(0.0, 0.2) * view) if rng.uniform() < 0.5 else 0.0
        mover = _with(mover, position=(mover.position[0], 0.0, mover.position[2] + lift), velocity=velocity,
                      angular_velocity=spin)
    else:
        events = (_launch(launch, 0, velocity, spin),)
    target = _ground_mover(rng, "box", e_target, x_target, 0.0, friction=float(rng.uniform(0.3, 0.6)),
                           restitution=float(rng.uniform(0.0, 0.2)))
    # the approach above is drawn for every clip (so a seed's other draws stay the same) and replaced here
    if rng.uniform() < SEPARATING_SHARE:  # at rest against the box, launched away from it
        away = float(rng.uniform(0.4, 1.0))
        mover = _with(mover, position=(x_target - side * (e_mover[0] + e_target[0]), 0.0, _rest_height(mover_shape, e_mover)),
                      velocity=(0.0, 0.0, 0.0), angular_velocity=(0.0, 0.0, 0.0))
        back = (0.0, 0.0 if mover_shape == "box" else -side * away / e_mover[0], 0.0)
        events = (_launch(int(rng.integers(1, max(2, frames - 3))), 0, (-side * away, 0.0, 0.0), back),)
    height = max(e_mover[2], e_target[2])
    camera = sampling.camera(rng, (0.0, 0.0, height + 0.1 * view), distance)
    return _base(rng, "collide", frames, fps, size, objects=(mover, target), scenery=(), camera=camera, gravity=g,
                 events=events)


def occlude(rng: np.random.Generator, frames: int, fps: float, size: int) -> ClipSpec:
    """A mover crosses the view behind a wall (from the left or the right, at a random speed,
    launched at a random early frame); it is fully hidden for part of the clip."""
    g = _fixed_gravity(rng)
    distance, view = _view(rng)
    tau = _duration(frames, fps)
    side = float(rng.choice([-1.0, 1.0]))
    shape = str(rng.choice(["sphere", "box", "cylinder"]))
    extents = sampling.half_extents(rng, shape, rng.uniform(*SIZE_FRACTION) * view)
    half_width = extents[0]
    height = 2 * (extents[2] if shape == "box" else extents[0])
    x_start = float(rng.uniform(0.3, 0.42) * view - half_width)
    launch = int(rng.integers(1, max(2, frames // 4))) if rng.uniform() < 0.5 else 0
    moving = tau - launch / fps
    speed = float(rng.uniform(1.7, 2.2) * x_start / moving)
    mover = _ground_mover(rng, shape, extents, -side * x_start, 0.0)
    if shape == "box":
        speed += 0.5 * mover.friction * g * moving
    velocity = (side * speed, 0.0, 0.0)
    spin = (0.0, 0.0 if shape == "box" else side * speed / extents[0], 0.0)
    events: tuple[Event, ...] = ()
    if launch == 0:
        mover = _with(mover, velocity=velocity, angular_velocity=spin)
    else:
        events = (_launch(launch, 0, velocity, spin),)
    hidden_frames = max(2, round(0.2 * frames))
    hidden_half = 0.5 * speed * hidden_frames / fps
    wall_offset = 0.22 * distance
    depth = distance * 0.97  # conservative: smallest distance of the camera from the path
    far_scale = (depth - wall_offset) / (depth - half_width)
    near_scale = (depth - wall_offset) / (depth + half_width)
    eye_height = height / 2 + 1.03 * distance * np.sin(np.radians(14.0))
    wall_half_width = far_scale * (hidden_half + half_width) + 0.01 * view
    wall_height = eye_height - (eye_height - 1.15 * height) * near_scale + 0.03 * view
    wall_x = float(rng.uniform(-0.08, 0.08) * view)
    wall = SceneryBox(
        role="occluder",
        half_extents=(float(wall_half_width), 0.03 * view, float(wall_height / 2)),
        position=(wall_x, float(-wall_offset), float(wall_height / 2)),
        color=tuple(float(c) for c in rng.uniform(0.35, 0.65, 3)),
    )
    camera = sampling.camera(rng, (0.0, 0.0, height / 2), distance)
    return _base(rng, "occlude", frames, fps, size, objects=(mover,), scenery=(wall,), camera=camera, gravity=g,
                 events=events)


#: Share of stack clips that start as a resting stack taken apart by pushes (the others drop their boxes).
ASSEMBLED_SHARE = 0.5
#: In a resting stack every box below the top is pushed at a random frame in [1, this share of the
#: clip): the boxes below the top part early in some clips and late in others, like the top itself.
LOWER_PUSH_SPAN = 0.6
#: A pushed support slides this many times (uniform) the distance it must travel to clear the
#: base, so that it lands clear of it instead of leaning on it.
SUPPORT_REACH = (2.0, 4.0)


def stack(rng: np.random.Generator, frames: int, fps: float, size: int) -> ClipSpec:
    """A base box and one or two boxes above it. Half the clips drop them: held above, released at
    random frames (lower first), each offset by 0-1.25 times the sum of its and the lower box's
    half widths, so some rest, some topple and some miss the box below and land beside it. The
    other half start as a resting stack that is taken apart at random frames: the top box is
    pushed off sideways, a support is pushed off the base the other way, and the base is pushed
    away from the camera along the ground or its pedestal. The pushes come in any order (a box
    pushed from under another drags it along or lets it fall). Contact between boxes starts at
    a random frame in the first kind and ends at one in the second, for the lower boxes as well
    as the top one, and every box moves in some clips, so that neither the slot nor the frame
    index tells whether a box touches another or how fast it moves. In half the clips the base
    stands on a pedestal, off the ground."""
    g = sampling.gravity(rng)
    distance, view = _view(rng)
    count = int(rng.integers(2, 4))
    side = float(rng.choice([-1.0, 1.0]))
    boxes_bottom_up = []
    x, z = 0.0, 0.0
    lower_half = None
    release = 0
    releases = []
    free_height = 0.85 * view
    assembled = bool(rng.uniform() < ASSEMBLED_SHARE)  # a resting stack taken apart by pushes
    platform = float(rng.uniform(0.05, 0.12) * view) if rng.uniform() < 0.5 else 0.0  # the base off the ground
    z = platform
    free_height -= platform
    for level in range(count):
        width = rng.uniform(0.16, 0.19) * view
        extents = (width / 2 * rng.uniform(0.9, 1.1), width / 2 * rng.uniform(0.9, 1.1), width / 2 * rng.uniform(0.75, 0.95))
        if lower_half is not None and assembled:  # resting, overhang at most 0.3: stable
            x += side * rng.uniform(0.0, 0.3) * (lower_half + extents[0])
        elif lower_half is not None:  # overhang: > 0.5 usually topples, > 1 misses the box below
            x += side * rng.uniform(0.0, 1.25) * (lower_half + extents[0])
            free_height -= 2 * extents[2]
            lift = float(rng.uniform(0.02, 0.6) * free_height / (count - 1))
            z += lift
            release = int(rng.integers(release, max(release + 1, frames - 3)))
        boxes_bottom_up.append((extents, (x, 0.0, z + extents[2])))
        releases.append(release if level else 0)
        z += 2 * extents[2]
        lower_half = extents[0]
    objects = []
    for (extents, position), release in zip(reversed(boxes_bottom_up), reversed(releases)):
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
                release_frame=int(release),
            )
        )
    scenery: tuple[SceneryBox, ...] = ()
    if platform:  # a pedestal about as wide as the base: boxes that miss the base fall to the ground
        base = objects[-1]
        scenery = (SceneryBox(role="platform",
                              half_extents=(float(base.half_extents[0] * rng.uniform(1.0, 1.3)), 0.3 * view, platform / 2),
                              position=(0.0, 0.0, platform / 2), color=tuple(float(c) for c in rng.uniform(0.35, 0.65, 3))),)
    events: tuple[Event, ...] = ()
    if assembled:  # taken apart: every box pushed at its own random frame
        pushes = [_launch(int(rng.integers(1, max(2, frames - 1))), 0,
                          (side * _push_off_speed(rng, objects[0], objects[1], side, g), 0.0, 0.0))]
        for slot in range(1, count):
            frame = int(rng.integers(1, max(2, int(LOWER_PUSH_SPAN * frames))))
            if slot + 1 < count:  # the support: off the base the other way (away from the top), well clear of it
                push = (-side * _push_off_speed(rng, objects[slot], objects[slot + 1], -side, g, SUPPORT_REACH), 0.0, 0.0)
            else:  # the base: away from the camera (not into the boxes pushed off sideways)
                push = (0.0, _push_base_speed(rng, objects[slot], g), 0.0)
            pushes.append(_launch(frame, slot, push))
        events = tuple(sorted(pushes, key=lambda event: (event.frame, event.params["slot"])))
    camera = sampling.camera(rng, (x / 2, 0.0, 0.4 * view), distance)
    return _base(rng, "stack", frames, fps, size, objects=tuple(objects), scenery=scenery, camera=camera, gravity=g,
                 events=events)


def _push_off_speed(rng: np.random.Generator, box: ObjectSpec, lower: ObjectSpec, side: float, g: float,
                    reach: tuple[float, float] = (1.3, 2.5)) -> float:
    """Speed of a sideways push (towards ``side``) that slides ``box`` off ``lower``, the box it rests on.

    Friction combines as the product of both boxes' (Bullet); the push carries the box ``reach``
    (drawn uniformly) times the distance it must travel to pass the lower box's edge.
    """
    clear = lower.half_extents[0] + box.half_extents[0] + side * (lower.position[0] - box.position[0])
    decel = box.friction * lower.friction * g
    return float(np.sqrt(2.0 * decel * max(clear, 0.0) * rng.uniform(*reach)))


def _push_base_speed(rng: np.random.Generator, base: ObjectSpec, g: float) -> float:
    """Speed of a push that slides the base 1-3 of its widths (ground and pedestal have
    friction 1, so the base's own friction is the combined one; a load on it slows it more)."""
    return float(np.sqrt(2.0 * base.friction * g * 2 * base.half_extents[0] * rng.uniform(1.0, 3.0)))


#: Scenario name -> sampler ``f(rng, frames, fps, size) -> ClipSpec``.
SCENARIOS: dict[str, Callable[[np.random.Generator, int, float, int], ClipSpec]] = {
    "drop": drop,
    "ramp": ramp,
    "roll": roll,
    "collide": collide,
    "occlude": occlude,
    "stack": stack,
}
