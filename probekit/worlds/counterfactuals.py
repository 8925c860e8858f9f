"""Counterfactual families: the same clip re-simulated with one factor changed.

Nuisance factors change only what is drawn, so every world-frame physics label stays bitwise
equal (rendering runs in clients separate from the physics):

- ``color``: every object gets a new base colour (hue at least 0.25 away);
- ``texture``: every object gets another surface marking;
- ``light``: a new light direction and new ambient/diffuse strengths;
- ``camera``: eye and target shift together by 3% of the viewing distance (camera-frame and
  image labels change, world-frame labels do not).

Physics factors change the simulation, and with it the labels that depend on them:

- ``mass``: slot 0's mass x0.4-0.6 or x1.6-2.5;
- ``velocity``: slot 0's initial and launch velocities (linear and angular) x0.7-0.85 or
  x1.15-1.3 (an object that never moves by itself gets a push of 0.3 m/s along x, at its
  release if it is held);
- ``gravity``: g x0.75-0.9 or x1.1-1.25.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from probekit.worlds import sampling
from probekit.worlds.spec import ClipSpec, Event

NUISANCE_FACTORS = ("color", "texture", "light", "camera")
PHYSICS_FACTORS = ("mass", "velocity", "gravity")

Counterfactual = tuple[ClipSpec, dict[str, Any]]


def _scale(rng: np.random.Generator, low: tuple[float, float], high: tuple[float, float]) -> float:
    return float(rng.uniform(*low) if rng.uniform() < 0.5 else rng.uniform(*high))


def color(spec: ClipSpec, rng) -> Counterfactual:
    """New base colours."""
    objects = tuple(
        dataclasses.replace(o, color=sampling.color(rng, avoid_hue=sampling.hue_of(o.color))) for o in spec.objects
    )
    return spec.replace(objects=objects), {"colors": [list(o.color) for o in objects]}


def texture(spec: ClipSpec, rng) -> Counterfactual:
    """New surface markings."""
    objects = tuple(dataclasses.replace(o, texture=sampling.texture(rng, avoid=o.texture)) for o in spec.objects)
    return spec.replace(objects=objects), {"textures": [o.texture for o in objects]}


def light(spec: ClipSpec, rng) -> Counterfactual:
    """A new light."""
    new = sampling.light(rng)
    return spec.replace(light=new), {"light": dataclasses.asdict(new)}


def camera(spec: ClipSpec, rng) -> Counterfactual:
    """Eye and target shifted by 3% of the viewing distance."""
    eye, target = np.asarray(spec.camera.eye), np.asarray(spec.camera.target)
    direction = rng.normal(size=3)
    shift = direction / np.linalg.norm(direction) * 0.03 * np.linalg.norm(eye - target)
    new = dataclasses.replace(
        spec.camera, eye=tuple(float(v) for v in eye + shift), target=tuple(float(v) for v in target + shift)
    )
    return spec.replace(camera=new), {"shift": [float(v) for v in shift]}


def mass(spec: ClipSpec, rng) -> Counterfactual:
    """Slot 0's mass scaled."""
    factor = _scale(rng, (0.4, 0.6), (1.6, 2.5))
    new = spec.objects[0].mass * factor
    return spec.replace_object(0, mass=new), {"slot": 0, "factor": factor, "mass": new}


def velocity(spec: ClipSpec, rng) -> Counterfactual:
    """Slot 0's initial velocities and launch velocities scaled."""
    obj = spec.objects[0]
    factor = _scale(rng, (0.7, 0.85), (1.15, 1.3))
    v = np.asarray(obj.velocity) * factor
    w = np.asarray(obj.angular_velocity) * factor
    events = []
    launched = False
    for event in spec.events:
        if event.action == "launch" and event.params["slot"] == 0:
            launched = True
            params = {**event.params, "velocity": [float(x * factor) for x in event.params["velocity"]],
                      "angular_velocity": [float(x * factor) for x in event.params.get("angular_velocity", [0, 0, 0])]}
            event = Event(event.frame, event.action, params)
        events.append(event)
    if np.linalg.norm(obj.velocity) < 1e-6 and not launched:
        if obj.release_frame > 0:  # pushed when released
            events.append(Event(obj.release_frame, "launch", {"slot": 0, "velocity": [0.3, 0.0, 0.0]}))
        else:
            v = np.array([0.3, 0.0, 0.0])
    new = spec.replace_object(0, velocity=tuple(float(x) for x in v), angular_velocity=tuple(float(x) for x in w))
    return new.replace(events=tuple(events)), {"slot": 0, "factor": factor, "velocity": [float(x) for x in v]}


def gravity(spec: ClipSpec, rng) -> Counterfactual:
    """g scaled."""
    factor = _scale(rng, (0.75, 0.9), (1.1, 1.25))
    return spec.replace(gravity=spec.gravity * factor), {"factor": factor, "gravity": spec.gravity * factor}


#: Factor name -> function ``f(spec, rng) -> (new spec, detail)``.
FACTORS: dict[str, Callable[[ClipSpec, np.random.Generator], Counterfactual]] = {
    "color": color,
    "texture": texture,
    "light": light,
    "camera": camera,
    "mass": mass,
    "velocity": velocity,
    "gravity": gravity,
}
