"""The physics side of a clip: one pybullet DIRECT client, stepped in fixed substeps.

Rendering lives in separate clients (:mod:`probekit.worlds.render`), so nothing drawn can
change the physics: nuisance counterfactuals share the physics bit for bit.

Contact parameters combine as Bullet does (product of both bodies' friction and of both
restitutions); the ground and the scenery use 1.0 for both, so an object's own friction and
restitution are the effective values against them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from probekit.worlds import clients
from probekit.worlds.bullet import pb

from probekit.worlds.shapes import dynamic_body, static_box
from probekit.worlds.spec import CONTACT_EPSILON, ClipSpec, Event, ObjectSpec


@dataclass
class StepContacts:
    """Contacts of every slot accumulated over some substeps."""

    ground: np.ndarray  # (K,) bool
    other: np.ndarray  # (K,) bool: another slot (object-object contact)
    scenery: np.ndarray  # (K,) bool: static scenery (ramp, occluder)
    pairs: np.ndarray  # (K, K) bool
    impulse: np.ndarray  # (K,) bool: the solver applied a normal impulse
    normal_force: np.ndarray  # (K,) float: total normal force of the last substep

    @classmethod
    def empty(cls, k: int) -> "StepContacts":
        return cls(
            np.zeros(k, bool), np.zeros(k, bool), np.zeros(k, bool), np.zeros((k, k), bool), np.zeros(k, bool),
            np.zeros(k),
        )


class PhysicsWorld:
    """A pybullet DIRECT simulation of a :class:`ClipSpec`'s objects, ground and scenery.

    Parameters
    ----------
    spec
        The clip; only physical fields are used.
    """

    def __init__(self, spec: ClipSpec) -> None:
        self.spec = spec
        self.client = clients.acquire()
        c = self.client
        pb.setPhysicsEngineParameter(
            fixedTimeStep=spec.dt, numSubSteps=1, deterministicOverlappingPairs=1, physicsClientId=c
        )
        pb.setGravity(0.0, 0.0, -spec.gravity, physicsClientId=c)
        self.gravity = spec.gravity
        plane = pb.createCollisionShape(pb.GEOM_PLANE, physicsClientId=c)
        self.ground = pb.createMultiBody(0.0, plane, -1, physicsClientId=c)
        pb.changeDynamics(
            self.ground, -1, lateralFriction=spec.ground_friction, restitution=spec.ground_restitution,
            physicsClientId=c,
        )
        self.scenery = [static_box(c, box) for box in spec.scenery]
        self.objects: list[ObjectSpec] = list(spec.objects)
        self.bodies: list[int | None] = [dynamic_body(c, obj) for obj in spec.objects]
        self._slot_cache = self._slot_of()

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        """Return the client to the pool."""
        if self.client is not None:
            clients.release(self.client)
            self.client = None

    def __enter__(self) -> "PhysicsWorld":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- stepping ------------------------------------------------------------------------
    def held(self, frame: int) -> np.ndarray:
        """(K,) bool: slots held at rest during the interval that ends at ``frame``."""
        return np.array([body is not None and obj.release_frame > frame
                         for obj, body in zip(self.objects, self.bodies)])

    def step(self, held: np.ndarray | None = None) -> None:
        """Advance one substep; ``held`` slots get an upward force equal to their weight."""
        if held is not None:
            for slot in np.flatnonzero(held):
                body = self.bodies[slot]
                position, _ = pb.getBasePositionAndOrientation(body, physicsClientId=self.client)
                weight = self.objects[slot].mass * self.gravity
                pb.applyExternalForce(body, -1, [0.0, 0.0, weight], position, pb.WORLD_FRAME,
                                      physicsClientId=self.client)
        pb.stepSimulation(physicsClientId=self.client)

    def state(self) -> dict[str, np.ndarray]:
        """Position, orientation, velocity and angular velocity of every slot (NaN if absent)."""
        k = len(self.bodies)
        out = {
            "position": np.full((k, 3), np.nan),
            "quaternion": np.full((k, 4), np.nan),
            "velocity": np.full((k, 3), np.nan),
            "angular_velocity": np.full((k, 3), np.nan),
        }
        for slot, body in enumerate(self.bodies):
            if body is None:
                continue
            pos, quat = pb.getBasePositionAndOrientation(body, physicsClientId=self.client)
            vel, ang = pb.getBaseVelocity(body, physicsClientId=self.client)
            out["position"][slot], out["quaternion"][slot] = pos, quat
            out["velocity"][slot], out["angular_velocity"][slot] = vel, ang
        return out

    def velocities(self) -> np.ndarray:
        """(K, 3) linear velocities (NaN for absent slots)."""
        out = np.full((len(self.bodies), 3), np.nan)
        for slot, body in enumerate(self.bodies):
            if body is not None:
                out[slot] = pb.getBaseVelocity(body, physicsClientId=self.client)[0]
        return out

    def _slot_of(self) -> dict[int, int]:
        return {body: slot for slot, body in enumerate(self.bodies) if body is not None}

    def step_contacts(self, into: StepContacts) -> None:
        """Add the contact manifolds of the last substep to ``into``.

        A point counts as contact when its distance is at most :data:`CONTACT_EPSILON` or when
        the solver applied a normal force there (Bullet resolves fast impacts one step early,
        from points a few millimetres apart); speculative points without force are ignored.
        Any positive normal force sets the impulse flag; ``normal_force`` is overwritten with
        this substep's total.
        """
        slot_of = self._slot_cache
        into.normal_force[:] = 0.0
        for point in pb.getContactPoints(physicsClientId=self.client):
            body_a, body_b, distance, force = point[1], point[2], point[8], point[9]
            for body, other in ((body_a, body_b), (body_b, body_a)):
                slot = slot_of.get(body)
                if slot is None:
                    continue
                if force > 0.0:
                    into.impulse[slot] = True
                    into.normal_force[slot] += force
                if distance > CONTACT_EPSILON and force <= 0.0:
                    continue
                if other == self.ground:
                    into.ground[slot] = True
                elif other in slot_of:
                    into.other[slot] = True
                    into.pairs[slot, slot_of[other]] = True
                else:
                    into.scenery[slot] = True

    def contacts_now(self) -> StepContacts:
        """Contacts at the current instant from exact closest-point queries (no solver state)."""
        k = len(self.bodies)
        now = StepContacts.empty(k)
        slot_of = self._slot_of()
        others = [self.ground, *self.scenery, *slot_of]
        for slot, body in enumerate(self.bodies):
            if body is None:
                continue
            for other in others:
                if other == body:
                    continue
                points = pb.getClosestPoints(body, other, CONTACT_EPSILON, physicsClientId=self.client)
                if not any(point[8] <= CONTACT_EPSILON for point in points):
                    continue
                if other == self.ground:
                    now.ground[slot] = True
                elif other in slot_of:
                    now.other[slot] = True
                    now.pairs[slot, slot_of[other]] = True
                else:
                    now.scenery[slot] = True
        return now

    # -- events --------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Apply a violation event to the physics (render-only events are ignored)."""
        self._apply(event)
        self._slot_cache = self._slot_of()

    def _apply(self, event: Event) -> None:
        c, p = self.client, event.params
        if event.action == "remove":
            pb.removeBody(self.bodies[p["slot"]], physicsClientId=c)
            self.bodies[p["slot"]] = None
        elif event.action == "disable_collision":
            pb.setCollisionFilterPair(
                self.bodies[p["slot"]], self.bodies[p["other"]], -1, -1, 0, physicsClientId=c
            )
        elif event.action == "set_gravity":
            self.gravity = float(p["gravity"])
            pb.setGravity(0.0, 0.0, -self.gravity, physicsClientId=c)
        elif event.action == "launch":
            body = self.bodies[p["slot"]]
            pb.resetBaseVelocity(body, list(p["velocity"]), list(p.get("angular_velocity", (0.0, 0.0, 0.0))),
                                 physicsClientId=c)
        elif event.action == "teleport":
            body = self.bodies[p["slot"]]
            pos, quat = pb.getBasePositionAndOrientation(body, physicsClientId=c)
            vel, ang = pb.getBaseVelocity(body, physicsClientId=c)
            new = np.asarray(pos) + np.asarray(p["offset"])
            pb.resetBasePositionAndOrientation(body, list(new), quat, physicsClientId=c)
            pb.resetBaseVelocity(body, vel, ang, physicsClientId=c)
        elif event.action == "reshape":
            slot = p["slot"]
            body = self.bodies[slot]
            pos, _ = pb.getBasePositionAndOrientation(body, physicsClientId=c)
            vel, _ = pb.getBaseVelocity(body, physicsClientId=c)
            pb.removeBody(body, physicsClientId=c)
            radius = float(p["half_extents"][0])
            spin = (0.0, vel[0] / radius, 0.0) if p["shape"] != "box" else (0.0, 0.0, 0.0)
            new = dataclasses.replace(
                self.objects[slot],
                shape=p["shape"],
                half_extents=tuple(p["half_extents"]),
                position=tuple(pos),
                orientation=tuple(p["orientation"]),
                velocity=tuple(vel),
                angular_velocity=spin,
                friction=float(p.get("friction", self.objects[slot].friction)),
            )
            self.objects[slot] = new
            self.bodies[slot] = dynamic_body(c, new)
