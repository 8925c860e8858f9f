"""pybullet collision and visual shapes for :class:`~probekit.worlds.spec.ObjectSpec` boxes,
spheres and cylinders."""

from __future__ import annotations

from probekit.worlds.bullet import pb

from probekit.worlds.spec import ObjectSpec, SceneryBox


def _geometry(shape: str, half_extents: tuple[float, float, float]) -> tuple[int, dict]:
    if shape == "sphere":
        return pb.GEOM_SPHERE, {"radius": half_extents[0]}
    if shape == "box":
        return pb.GEOM_BOX, {"halfExtents": list(half_extents)}
    if shape == "cylinder":
        return pb.GEOM_CYLINDER, {"radius": half_extents[0], "height": 2 * half_extents[2]}
    raise ValueError(f"unknown shape {shape!r}")


def collision_shape(client: int, shape: str, half_extents: tuple[float, float, float]) -> int:
    """Create a collision shape; returns its id in ``client``."""
    geom, kwargs = _geometry(shape, half_extents)
    return pb.createCollisionShape(geom, physicsClientId=client, **kwargs)


def visual_shape(client: int, shape: str, half_extents: tuple[float, float, float], color) -> int:
    """Create a visual shape of the given base colour; returns its id in ``client``."""
    geom, kwargs = _geometry(shape, half_extents)
    if geom == pb.GEOM_CYLINDER:
        kwargs = {"radius": kwargs["radius"], "length": kwargs["height"]}
    return pb.createVisualShape(geom, rgbaColor=[*color, 1.0], physicsClientId=client, **kwargs)


def dynamic_body(client: int, obj: ObjectSpec) -> int:
    """A dynamic body (collision only, no visual) with zero damping and the object's contact
    parameters; centre of mass at the base origin."""
    body = pb.createMultiBody(
        baseMass=obj.mass,
        baseCollisionShapeIndex=collision_shape(client, obj.shape, obj.half_extents),
        baseVisualShapeIndex=-1,
        basePosition=list(obj.position),
        baseOrientation=list(obj.orientation),
        physicsClientId=client,
    )
    pb.changeDynamics(
        body,
        -1,
        linearDamping=0.0,
        angularDamping=0.0,
        lateralFriction=obj.friction,
        spinningFriction=0.0,
        rollingFriction=0.0,
        restitution=obj.restitution,
        physicsClientId=client,
    )
    pb.resetBaseVelocity(body, list(obj.velocity), list(obj.angular_velocity), physicsClientId=client)
    return body


def static_box(client: int, box: SceneryBox) -> int:
    """A fixed box with collision (physics client)."""
    body = pb.createMultiBody(
        baseMass=0.0,
        baseCollisionShapeIndex=collision_shape(client, "box", box.half_extents),
        baseVisualShapeIndex=-1,
        basePosition=list(box.position),
        baseOrientation=list(box.orientation),
        physicsClientId=client,
    )
    pb.changeDynamics(body, -1, lateralFriction=box.friction, restitution=box.restitution, physicsClientId=client)
    return body


def visual_body(client: int, shape: str, half_extents, color, texture_id: int | None, position, orientation) -> int:
    """A massless, collision-free body that is only drawn (render clients)."""
    body = pb.createMultiBody(
        baseMass=0.0,
        baseCollisionShapeIndex=-1,
        baseVisualShapeIndex=visual_shape(client, shape, half_extents, color),
        basePosition=list(position),
        baseOrientation=list(orientation),
        physicsClientId=client,
    )
    if texture_id is not None:
        pb.changeVisualShape(body, -1, textureUniqueId=texture_id, physicsClientId=client)
    return body
