"""Pinhole camera maths shared by rendering and ground truth.

Camera frame: OpenCV (x right, y down, z forward). Image: x right, y down, origin at the
top-left corner of the image (pixel (i, j) has its centre at (j + 0.5, i + 0.5)).
"""

from __future__ import annotations

import numpy as np

from probekit.worlds.spec import CameraSpec


def extrinsics(camera: CameraSpec) -> np.ndarray:
    """4x4 world -> camera (OpenCV) rigid transform."""
    eye = np.asarray(camera.eye, dtype=np.float64)
    target = np.asarray(camera.target, dtype=np.float64)
    forward = target - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])  # rows: camera axes in world coordinates
    transform = np.eye(4)
    transform[:3, :3] = rotation
    transform[:3, 3] = -rotation @ eye
    return transform


def intrinsics(camera: CameraSpec, size: int) -> np.ndarray:
    """3x3 pinhole matrix K for a ``size`` x ``size`` image (vertical field of view)."""
    focal = 0.5 * size / np.tan(np.radians(camera.fov_deg) / 2.0)
    return np.array([[focal, 0.0, size / 2.0], [0.0, focal, size / 2.0], [0.0, 0.0, 1.0]])


def view_matrix(camera: CameraSpec) -> list[float]:
    """pybullet's column-major OpenGL view matrix (same pose as :func:`extrinsics`)."""
    gl_from_cv = np.diag([1.0, -1.0, -1.0, 1.0])
    return list((gl_from_cv @ extrinsics(camera)).T.ravel())


def projection_matrix(camera: CameraSpec) -> list[float]:
    """pybullet's column-major OpenGL projection matrix (square aspect)."""
    f = 1.0 / np.tan(np.radians(camera.fov_deg) / 2.0)
    n, far = camera.near, camera.far
    proj = np.array(
        [
            [f, 0.0, 0.0, 0.0],
            [0.0, f, 0.0, 0.0],
            [0.0, 0.0, (far + n) / (n - far), 2.0 * far * n / (n - far)],
            [0.0, 0.0, -1.0, 0.0],
        ]
    )
    return list(proj.T.ravel())


def to_camera(points_world: np.ndarray, extrinsic: np.ndarray) -> np.ndarray:
    """Transform (..., 3) world points into the camera frame."""
    return points_world @ extrinsic[:3, :3].T + extrinsic[:3, 3]


def project(points_camera: np.ndarray, intrinsic: np.ndarray) -> np.ndarray:
    """Project (..., 3) camera-frame points to (..., 2) pixel coordinates; NaN behind the camera."""
    z = points_camera[..., 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = points_camera[..., :2] / z * np.diag(intrinsic)[:2] + intrinsic[:2, 2]
    return np.where(z > 0, uv, np.nan)


def depth_from_buffer(buffer: np.ndarray, camera: CameraSpec) -> np.ndarray:
    """Convert an OpenGL depth buffer in [0, 1] to z-depth in metres (far plane for background)."""
    n, far = camera.near, camera.far
    return far * n / (far - (far - n) * buffer)
