"""Labels of single simulated clips checked against textbook physics and scene geometry."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from probekit.worlds.scenarios import SCENARIOS
from probekit.worlds.spec import CONTACT_EPSILON, CameraSpec, ClipSpec, LightSpec, ObjectSpec, SceneryBox
from probekit.worlds.simulate import simulate_clip


def sphere(x, z, r=0.3, mass=1.5, velocity=(0.0, 0.0, 0.0), restitution=0.0, friction=0.5, y=0.0):
    return ObjectSpec("sphere", (r, r, r), mass, friction, restitution, (0.8, 0.2, 0.2), "halves",
                      (x, y, z), velocity=velocity)


def clip(objects, gravity=9.81, frames=12, scenery=(), size=48, camera=None):
    camera = camera or CameraSpec(eye=(0.0, -6.0, 1.5), target=(0.0, 0.0, 1.0))
    return ClipSpec("test", tuple(objects), tuple(scenery), camera, LightSpec(), gravity, frames, 15.0, 32, size)


@pytest.mark.parametrize("g", [9.81, 4.0, 15.5])
def test_free_fall_acceleration_matches_configured_g(g):
    out = simulate_clip(clip([sphere(0.0, 2.6, velocity=(0.2, 0.0, 0.0))], gravity=g, frames=10))
    free = ~out["objects/contact_interval"][:, 0] & ~out["objects/impulse"][:, 0]
    assert free.sum() >= 8  # contact-free frames: >= 0.5 s at 15 fps
    acc = out["objects/acceleration_world"][free, 0]
    np.testing.assert_allclose(acc[:, 2], -g, rtol=0.02)
    np.testing.assert_allclose(acc[:, :2], 0.0, atol=0.02 * g)
    # independent of the label code: second differences of the positions
    z = out["objects/position_world"][:, 0, 2]
    second = (z[2:] - 2 * z[1:-1] + z[:-2]) * 15.0**2
    np.testing.assert_allclose(second[free[1:-1] & free[2:] & free[:-2]], -g, rtol=0.02)


def _incline_angle(spec):
    (ramp,) = spec.scenery
    tilt = Rotation.from_quat(ramp.orientation).apply([0.0, 0.0, 1.0])
    return np.arccos(tilt[2])


def _downhill(spec):
    """Unit vector down the ramp's slope (from the ramp's own orientation)."""
    (ramp,) = spec.scenery
    along = Rotation.from_quat(ramp.orientation).apply([1.0, 0.0, 0.0])
    return along if along[2] < 0 else -along


def _acceleration_on_ramp(out, fps, downhill, direction=1.0):
    """Acceleration magnitudes (labels and second differences) on frames moving down (``direction``
    1) or up (-1) the ramp."""
    on_ramp = out["objects/contact_scenery_interval"][:, 0] & ~out["objects/contact_ground_interval"][:, 0]
    on_ramp &= ~out["objects/held"][:, 0]
    on_ramp[0] = False  # settling during the lead-in
    on_ramp &= direction * (out["objects/velocity_world"][:, 0] @ downhill) > 0.05  # moving that way, not turning
    acc = np.linalg.norm(out["objects/acceleration_world"][on_ramp, 0], axis=-1)
    p = out["objects/position_world"][:, 0]
    idx = np.flatnonzero(on_ramp[1:-1] & on_ramp[2:] & on_ramp[:-2]) + 1
    second = np.linalg.norm(p[idx + 1] - 2 * p[idx] + p[idx - 1], axis=-1) * fps**2
    return acc, second


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sliding_box_acceleration_on_ramp(seed):
    spec = SCENARIOS["ramp"](np.random.default_rng(seed), 14, 15.0, 32)
    theta = _incline_angle(spec)
    mu = spec.objects[0].friction  # the ramp's friction is 1.0 and Bullet multiplies
    out = simulate_clip(spec)
    checked = 0
    # sliding down: friction opposes g's pull (a = g (sin t - mu cos t)); sliding up: both slow it
    for direction, sign in ((1.0, -1.0), (-1.0, 1.0)):
        expected = spec.gravity * (np.sin(theta) + sign * mu * np.cos(theta))
        acc, second = _acceleration_on_ramp(out, spec.fps, _downhill(spec), direction)
        np.testing.assert_allclose(acc, expected, rtol=0.05)
        np.testing.assert_allclose(second, expected, rtol=0.05)
        checked += second.size
    assert checked >= 6


@pytest.mark.parametrize("seed", [3, 4])
def test_rolling_down_ramp_without_slipping(seed):
    spec = SCENARIOS["roll"](np.random.default_rng(seed), 14, 15.0, 32)
    theta = _incline_angle(spec)
    factor = 5.0 / 7.0 if spec.objects[0].shape == "sphere" else 2.0 / 3.0
    out = simulate_clip(spec)
    second = np.concatenate([_acceleration_on_ramp(out, spec.fps, _downhill(spec), d)[1] for d in (1.0, -1.0)])
    assert second.size >= 6
    np.testing.assert_allclose(second, factor * spec.gravity * np.sin(theta), rtol=0.05)


def test_resting_sphere_touches_ground_with_weight():
    mass, g, r = 2.3, 7.5, 0.3
    out = simulate_clip(clip([sphere(0.0, r, r=r, mass=mass)], gravity=g, frames=6))
    assert out["objects/contact_ground_now"][:, 0].all()
    assert out["objects/contact_now"][:, 0].all()
    np.testing.assert_allclose(out["objects/normal_force"][1:, 0], mass * g, rtol=0.02)
    np.testing.assert_allclose(out["objects/position_world"][:, 0, 2], r, atol=2 * CONTACT_EPSILON)


def test_contact_pairs_follow_surface_distance():
    r = 0.3
    gap = 5 * CONTACT_EPSILON
    apart = simulate_clip(clip([sphere(-r - gap / 2, r), sphere(r + gap / 2, r)], frames=4))
    touching = simulate_clip(clip([sphere(-r, r), sphere(r, r)], frames=4))
    # geometry: surfaces stay `gap` apart (nothing pushes the resting spheres)
    p = apart["objects/position_world"]
    assert (np.linalg.norm(p[:, 0] - p[:, 1], axis=-1) - 2 * r > CONTACT_EPSILON).all()
    assert not apart["objects/contact_pairs_interval"].any()
    assert not apart["objects/contact_object_now"].any()
    assert apart["objects/contact_ground_now"].all()
    assert touching["objects/contact_pairs_interval"][0, 0, 1] and touching["objects/contact_object_now"][0].all()


def test_projected_centre_matches_mask_centroid_of_visible_sphere():
    out = simulate_clip(clip([sphere(x, 0.6 + 0.5 * i, r=0.35) for i, x in enumerate((-1.2, 0.3))], frames=3, size=64))
    checked = 0
    for t in range(3):
        for k in range(2):
            if out["objects/visible_fraction"][t, k] != 1.0:
                continue
            rows, cols = np.nonzero(out["video/segmentation"][t] == k)
            centroid = np.array([cols.mean() + 0.5, rows.mean() + 0.5])
            assert np.linalg.norm(out["objects/position_image"][t, k] - centroid) <= 1.5
            checked += 1
    assert checked >= 4


def test_visible_fraction_behind_wall_and_in_the_open():
    wall = SceneryBox("occluder", (1.0, 0.05, 1.2), (0.0, -1.5, 1.2))
    hidden, open_ = sphere(0.0, 0.3), sphere(2.6, 0.3)
    camera = CameraSpec(eye=(0.0, -7.0, 1.2), target=(0.0, 0.0, 0.6))
    out = simulate_clip(clip([hidden, open_], frames=2, scenery=[wall], camera=camera, size=64))
    np.testing.assert_array_equal(out["objects/visible_fraction"][:, 0], 0.0)
    assert not out["objects/visible"][:, 0].any() and not out["objects/out_of_frame"][:, 0].any()
    np.testing.assert_array_equal(out["objects/visible_fraction"][:, 1], 1.0)
    assert (out["video/segmentation"] == -2).any()


def test_held_object_rests_until_release_then_falls_at_g():
    g, release = 8.5, 4
    held = sphere(0.0, 2.0, r=0.3)
    held = ObjectSpec(**{**held.__dict__, "release_frame": release})
    out = simulate_clip(clip([held], gravity=g, frames=10))
    assert out["objects/held"][:release, 0].all() and not out["objects/held"][release:, 0].any()
    z = out["objects/position_world"][:, 0, 2]
    np.testing.assert_allclose(z[:release], 2.0, atol=1e-6)  # at rest in mid-air
    # released at time (release - 1) / fps and integrated by pybullet's semi-implicit Euler at
    # dt = 1/480 s: z_n = z0 - g dt^2 n (n + 1) / 2 = z0 - g (t^2 + dt t) / 2 (free fall plus the
    # integrator's first-order term), exact up to float rounding
    dt = 1.0 / 480.0
    t = (np.arange(release, 10) - (release - 1)) / 15.0
    np.testing.assert_allclose(z[release:], 2.0 - 0.5 * g * (t**2 + dt * t), atol=2e-4)


def test_launch_event_sets_velocity_at_its_frame():
    from probekit.worlds.spec import Event

    launch = Event(3, "launch", {"slot": 0, "velocity": [0.0, 0.0, 3.0]})
    spec = clip([sphere(0.0, 0.3, r=0.3)], gravity=10.0, frames=10).replace(events=(launch,))
    out = simulate_clip(spec)
    v = out["objects/velocity_world"][:, 0, 2]
    np.testing.assert_allclose(v[:3], 0.0, atol=1e-3)
    # launched at the start of frame 3's interval: v(t) = 3 - g (t - 2/fps)
    t = (np.arange(3, 6) - 2) / 15.0
    np.testing.assert_allclose(v[3:6], 3.0 - 10.0 * t, atol=1e-3)
