"""Rendering with pybullet's CPU renderer (ER_TINY_RENDERER) in render-only clients.

One client draws the full scene (ground, scenery, objects; RGB, depth, segmentation,
shadows). One more client per object holds that object alone: its segmentation gives the
amodal mask. Render clients never step; object poses are copied in from the physics client.
"""

from __future__ import annotations

import numpy as np
from probekit.worlds import clients
from probekit.worlds.bullet import pb, pybullet_data


from probekit.worlds.camera import depth_from_buffer, projection_matrix, view_matrix
from probekit.worlds.shapes import visual_body
from probekit.worlds.spec import ClipSpec, Event, ObjectSpec
from probekit.worlds.textures import texture_file

#: Segmentation code of the ground and the background, and of static scenery.
SEG_BACKGROUND = -1
SEG_SCENERY = -2


class _Client:
    """One render-only pybullet client holding a set of visual bodies."""

    def __init__(self) -> None:
        self.id = clients.acquire()
        self.textures: dict[str, int] = {}

    def texture(self, name: str) -> int:
        if name not in self.textures:
            self.textures[name] = pb.loadTexture(texture_file(name), physicsClientId=self.id)
        return self.textures[name]

    def add_object(self, obj: ObjectSpec) -> int:
        return visual_body(
            self.id, obj.shape, obj.half_extents, obj.color, self.texture(obj.texture), obj.position, obj.orientation
        )

    def close(self) -> None:
        clients.release(self.id)


class SceneRenderer:
    """Renders a clip's frames and each object's amodal mask.

    Parameters
    ----------
    spec
        The clip: objects, scenery, camera, light and image size.
    """

    def __init__(self, spec: ClipSpec) -> None:
        self.spec = spec
        self.size = spec.image_size
        self.view = view_matrix(spec.camera)
        self.proj = projection_matrix(spec.camera)
        self.scene = _Client()
        c = self.scene.id
        self.ground = pb.loadURDF(
            pybullet_data.getDataPath() + "/plane.urdf", useFixedBase=True, physicsClientId=c
        )
        self.scenery = [
            visual_body(c, "box", box.half_extents, box.color, None, box.position, box.orientation)
            for box in spec.scenery
        ]
        self.objects = list(spec.objects)
        self.scene_bodies: list[int | None] = [self.scene.add_object(obj) for obj in spec.objects]
        self.alone = [_Client() for _ in spec.objects]
        self.alone_bodies: list[int | None] = [
            client.add_object(obj) for client, obj in zip(self.alone, spec.objects)
        ]

    def close(self) -> None:
        """Return every render client to the pool."""
        for client in [self.scene, *self.alone]:
            client.close()

    def __enter__(self) -> "SceneRenderer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- poses and events ------------------------------------------------------------------
    def set_poses(self, positions: np.ndarray, quaternions: np.ndarray) -> None:
        """Copy object poses (K, 3) and (K, 4) from the physics."""
        for slot, (body, alone) in enumerate(zip(self.scene_bodies, self.alone_bodies)):
            if body is None:
                continue
            pos, quat = list(positions[slot]), list(quaternions[slot])
            pb.resetBasePositionAndOrientation(body, pos, quat, physicsClientId=self.scene.id)
            pb.resetBasePositionAndOrientation(alone, pos, quat, physicsClientId=self.alone[slot].id)

    def apply(self, event: Event) -> None:
        """Apply the visible side of a violation event."""
        p = event.params
        if event.action in ("remove", "reshape", "recolor"):
            slot = p["slot"]
            obj = self.objects[slot]
            if event.action == "reshape":
                obj = ObjectSpec(**{**obj.__dict__, "shape": p["shape"], "half_extents": tuple(p["half_extents"])})
            elif event.action == "recolor":
                obj = ObjectSpec(**{**obj.__dict__, "color": tuple(p["color"])})
            self.objects[slot] = obj
            pb.removeBody(self.scene_bodies[slot], physicsClientId=self.scene.id)
            pb.removeBody(self.alone_bodies[slot], physicsClientId=self.alone[slot].id)
            if event.action == "remove":
                self.scene_bodies[slot] = self.alone_bodies[slot] = None
            else:
                self.scene_bodies[slot] = self.scene.add_object(obj)
                self.alone_bodies[slot] = self.alone[slot].add_object(obj)

    # -- rendering -------------------------------------------------------------------------
    def render(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Render the current frame.

        Returns
        -------
        rgb : (H, W, 3) uint8
        depth : (H, W) float32, z-depth in metres (far plane where nothing is drawn)
        segmentation : (H, W) int8, slot index, -1 ground/background, -2 scenery
        amodal : (K, H, W) bool, each existing object's full silhouette
        """
        light = self.spec.light
        s = self.size
        _, _, rgba, depth, seg = pb.getCameraImage(
            s, s, self.view, self.proj,
            shadow=1,
            lightDirection=list(light.direction),
            lightAmbientCoeff=light.ambient,
            lightDiffuseCoeff=light.diffuse,
            lightSpecularCoeff=light.specular,
            renderer=pb.ER_TINY_RENDERER,
            physicsClientId=self.scene.id,
        )
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(s, s, 4)[..., :3]
        depth = depth_from_buffer(np.asarray(depth, dtype=np.float64).reshape(s, s), self.spec.camera)
        seg = np.asarray(seg, dtype=np.int64).reshape(s, s)
        codes = np.full(seg.shape, SEG_BACKGROUND, dtype=np.int8)
        for slot, body in enumerate(self.scene_bodies):
            if body is not None:
                codes[seg == body] = slot
        for body in self.scenery:
            codes[seg == body] = SEG_SCENERY
        amodal = np.zeros((len(self.objects), s, s), dtype=bool)
        for slot, (client, body) in enumerate(zip(self.alone, self.alone_bodies)):
            if body is None:
                continue
            alone_seg = pb.getCameraImage(
                s, s, self.view, self.proj, shadow=0, renderer=pb.ER_TINY_RENDERER, physicsClientId=client.id
            )[4]
            amodal[slot] = np.asarray(alone_seg).reshape(s, s) == body
        return rgb, depth.astype(np.float32), codes, amodal
