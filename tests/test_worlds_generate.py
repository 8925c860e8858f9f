"""The shared world file: free fall, object sizes, twins, counterfactuals, ids, determinism."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from probekit.data import WorldFile
from worlds_data import SHARED_OPTIONS, load_all, session_folder, shared_world

PER_FRAME_PHYSICS = (
    "exists", "position_world", "velocity_world", "acceleration_world", "impulse", "angular_velocity_world",
    "quaternion_world", "rot6d_world", "contact_now", "contact_interval", "contact_ground_now",
    "contact_ground_interval", "contact_object_now", "contact_object_interval", "contact_scenery_now",
    "contact_scenery_interval", "contact_pairs_interval", "normal_force", "held",
)
PER_FRAME = ("video/rgb", "video/depth", "video/segmentation", "masks/amodal") + tuple(
    f"objects/{name}" for name in PER_FRAME_PHYSICS + (
        "visible", "visible_fraction", "out_of_frame", "position_camera", "position_image", "bbox_visible",
        "bbox_amodal", "quaternion_camera", "rot6d_camera"))


@pytest.fixture(scope="module")
def world():
    return load_all(shared_world())


@pytest.fixture(scope="module")
def table():
    with WorldFile(shared_world()) as w:
        return w.clips()


def _original_of(table, i):
    family = table.family_id[i]
    return int(table.index[(table.family_id == family) & (table.kind == "original")][0])


def _equal(a, b):
    return np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def test_file_layout_and_reader(world, table):
    with WorldFile(shared_world()) as w:
        n = w.n_clips
        assert (w.n_frames, w.image_size, w.fps, w.k_max) == (16, (48, 48), 15.0, 3)
        assert w.video(3).shape == (16, 48, 48, 3) and w.video(3).dtype == np.uint8
        picked = w.read("objects/mass", clips=[5, 2, 5])
        np.testing.assert_array_equal(picked, world["objects/mass"][[5, 2, 5]])
        assert list(w.read("clips/scenario", clips=[0])) == [table.scenario[0]]
        assert w.dataset("video/rgb").chunks == (1, 16, 48, 48, 3)
    families = SHARED_OPTIONS["clips"]
    # per family: original + violations of its scenario + 2 counterfactuals (+ a near miss where one was made)
    near_misses = int((table.kind == "near_miss").sum())
    assert set(table.scenario[table.kind == "near_miss"]) <= {"collide", "stack"}
    expected = families * 3 + 2 * 2 + 2 * 2 + 2 * 1 + near_misses
    assert n == expected == len(table)
    assert table.clip_id.is_unique and table.family_id.nunique() == families
    assert set(table.scenario) == {"drop", "ramp", "roll", "collide", "occlude", "stack"}
    with h5py.File(shared_world()) as f:
        assert f["objects/acceleration_world"].attrs["unit"] == "m/s^2"
        assert "substep" in f["objects/acceleration_world"].attrs["method"]


def test_drop_flies_freely_at_configured_g_and_rests_while_held(world, table):
    for i in np.flatnonzero((table.scenario == "drop") & (table.kind == "original")):
        g = world["clips/gravity"][i]
        held = world["objects/held"][i, :, 0]
        free = ~world["objects/contact_interval"][i, :, 0] & ~world["objects/impulse"][i, :, 0] & ~held
        assert free.sum() >= 3
        np.testing.assert_allclose(world["objects/acceleration_world"][i, free, 0, 2], -g, rtol=0.02)
        np.testing.assert_allclose(world["objects/acceleration_world"][i, held, 0], 0.0, atol=0.02 * g)
        np.testing.assert_allclose(world["objects/velocity_world"][i, held, 0], 0.0, atol=1e-3)
        # the object stays in view while flying
        assert not world["objects/out_of_frame"][i, free, 0].any()


def test_objects_span_an_eighth_of_the_image(world):
    box = world["objects/bbox_amodal"]
    inside = (box[..., 0] > 0) & (box[..., 2] < 48) & (box[..., 1] > 0) & (box[..., 3] < 48)
    inside &= world["objects/exists"]
    width = (box[..., 2] - box[..., 0])[inside]
    assert width.size > 100 and width.min() >= 48 / 8


def test_projected_centre_near_centroid_of_visible_spheres(world):
    sphere = (world["objects/shape"] == 0)[:, None, :] & (world["objects/visible_fraction"] == 1.0)
    box = world["objects/bbox_visible"]
    sphere &= (box[..., 0] > 0) & (box[..., 2] < 48) & (box[..., 1] > 0) & (box[..., 3] < 48)
    checked = 0
    for i, t, k in zip(*np.nonzero(sphere)):
        rows, cols = np.nonzero(world["video/segmentation"][i, t] == k)
        centroid = np.array([cols.mean() + 0.5, rows.mean() + 0.5])
        assert np.linalg.norm(world["objects/position_image"][i, t, k] - centroid) <= 1.5
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("violation", ["permanence", "solidity", "gravity", "immutability", "continuity"])
def test_violation_twins_equal_before_and_differ_after(world, table, violation):
    twins = np.flatnonzero(table.violation == violation)
    assert twins.size == 2
    for i in twins:
        o, vf = _original_of(table, i), int(table.violation_frame[i])
        assert 1 <= vf < 16
        for name in PER_FRAME:
            assert _equal(world[name][i, :vf], world[name][o, :vf]), name
        assert any(not _equal(world[name][i, vf:], world[name][o, vf:]) for name in PER_FRAME)
        detail = json.loads(table.detail[i])
        check = globals()[f"_check_{violation}"]
        check(world, i, o, vf, detail)


def _check_permanence(world, i, o, vf, detail):
    # fully hidden in both just before, still hidden in the original when it vanishes
    assert world["objects/visible_fraction"][o, vf - 1, 0] == 0 == world["objects/visible_fraction"][i, vf - 1, 0]
    assert world["objects/visible_fraction"][o, vf, 0] == 0
    assert not world["objects/exists"][i, vf:, 0].any() and world["objects/exists"][o, vf:, 0].all()
    assert world["objects/visible"][o, vf:, 0].any()  # the original re-emerges


def _check_solidity(world, i, o, vf, detail):
    p = world["objects/position_world"][i]
    half = world["objects/half_extents"][i]
    overlap = np.linalg.norm(p[:, 0] - p[:, 1], axis=-1) < (half[0].min() + half[1].min())
    assert overlap.any()  # the mover's centre passes deep inside the target
    # no impulse between them: the target is never pushed, the mover only feels ground friction
    target = world["objects/position_world"][i, :, 1]
    assert np.abs(target - target[0]).max() < 1e-3
    # the original is hit: its target moves more than ten times the twin's bound (a late hit moves it a few cm by the end)
    assert np.abs(world["objects/position_world"][o, :, 1] - target[0]).max() > 0.01
    # once sliding or rolling on the ground (after its launch and landing), only friction slows the mover
    vx = world["objects/velocity_world"][i, :, 0, 0]
    ground = world["objects/contact_ground_interval"][i, :, 0]
    moving = np.abs(vx) > 1e-6
    steady = np.zeros_like(ground)
    steady[2:] = ground[2:] & ground[1:-1] & ground[:-2] & moving[1:-1] & moving[:-2]
    assert steady.sum() >= 2
    mover_dv = np.abs(np.diff(vx))[steady[1:]]
    friction_dv = world["objects/friction"][i, 0] * world["clips/gravity"][i] / 15.0
    assert mover_dv.max() <= 1.05 * friction_dv + 1e-3


def _check_gravity(world, i, o, vf, detail):
    g_after = detail["gravity_after"]
    assert abs(g_after / detail["gravity_before"] - 1) > 0.3
    free_twin = ~world["objects/contact_interval"][i, :, 0] & ~world["objects/impulse"][i, :, 0]
    free_twin &= ~world["objects/held"][i, :, 0]
    free_orig = ~world["objects/contact_interval"][o, :, 0] & ~world["objects/impulse"][o, :, 0]
    free_orig &= ~world["objects/held"][o, :, 0]
    after, before = free_twin.copy(), free_orig.copy()
    after[:vf], before[vf:] = False, False
    assert after.sum() >= 2 and free_twin[vf - 1]  # the change happens in free flight
    np.testing.assert_allclose(world["objects/acceleration_world"][i, after, 0, 2], -g_after, rtol=0.02)
    np.testing.assert_allclose(world["objects/acceleration_world"][o, before, 0, 2], -detail["gravity_before"], rtol=0.02)


def _check_immutability(world, i, o, vf, detail):
    assert world["objects/visible_fraction"][o, vf - 1, 0] == 0 == world["objects/visible_fraction"][o, vf, 0]
    both = world["objects/visible_fraction"][i, :, 0] > 0.5
    both &= world["objects/visible_fraction"][o, :, 0] > 0.5
    both[:vf] = False
    if detail["action"] == "recolor":
        assert both.any()
        t = int(np.flatnonzero(both)[0])
        mean_twin = world["video/rgb"][i, t][world["video/segmentation"][i, t] == 0].mean(0)
        mean_orig = world["video/rgb"][o, t][world["video/segmentation"][o, t] == 0].mean(0)
        assert np.abs(mean_twin - mean_orig).max() > 20
    else:
        seen = world["objects/visible_fraction"][i, vf:, 0] > 0.5
        assert seen.any()  # the new shape re-emerges
        assert detail["shape_after"] != detail["shape_before"]
        t = vf + int(np.flatnonzero(seen)[-1])
        mask = world["masks/amodal"][i, t, 0]
        x0, y0, x1, y1 = world["objects/bbox_amodal"][i, t, 0].astype(int)
        fill = mask.sum() / ((x1 - x0) * (y1 - y0))
        # a disc fills pi/4 of its box; a cube seen from the side fills most of it
        assert (fill > 0.85) if detail["shape_after"] == "box" else (fill < 0.85)


def _check_continuity(world, i, o, vf, detail):
    p_twin, p_orig = world["objects/position_world"][i, :, 0], world["objects/position_world"][o, :, 0]
    assert abs(p_twin[vf, 0] - p_orig[vf, 0]) >= detail["min_distance"]
    step = np.abs(p_twin[vf, 0] - p_twin[vf - 1, 0])
    drift = np.abs(world["objects/velocity_world"][i, vf - 1, 0, 0]) / 15.0
    assert step >= detail["min_distance"] - drift - 1e-6


def test_nuisance_counterfactuals_keep_physics_bitwise(world, table):
    nuisance = np.flatnonzero(table.counterfactual_factor.isin(["color", "texture", "light", "camera"]))
    assert set(table.counterfactual_factor[nuisance]) == {"color", "texture", "light", "camera"}
    for i in nuisance:
        o = _original_of(table, i)
        for name in PER_FRAME_PHYSICS + ("mass", "friction", "restitution", "half_extents", "shape"):
            assert np.array_equal(world[f"objects/{name}"][i], world[f"objects/{name}"][o], equal_nan=True), name
        assert world["clips/gravity"][i] == world["clips/gravity"][o]
        assert not np.array_equal(world["video/rgb"][i], world["video/rgb"][o])
        if table.counterfactual_factor[i] == "camera":
            assert not np.array_equal(world["clips/extrinsics"][i], world["clips/extrinsics"][o])


def test_physics_counterfactuals_change_their_factor(world, table):
    for i in np.flatnonzero(table.counterfactual_factor.isin(["mass", "velocity", "gravity"])):
        o, factor = _original_of(table, i), table.counterfactual_factor[i]
        if factor == "mass":
            assert world["objects/mass"][i, 0] != world["objects/mass"][o, 0]
        elif factor == "gravity":
            g = world["clips/gravity"][i]
            assert g != world["clips/gravity"][o]
            falling = ~world["objects/contact_interval"][i, :, 0] & world["objects/exists"][i, :, 0]
            falling &= ~world["objects/held"][i, :, 0]
            if falling.any():
                np.testing.assert_allclose(world["objects/acceleration_world"][i, falling, 0, 2], -g, rtol=0.02)
        else:
            assert not np.array_equal(world["objects/velocity_world"][i, :, 0], world["objects/velocity_world"][o, :, 0])
        assert np.array_equal(world["video/rgb"][i, :1] != 0, world["video/rgb"][i, :1] != 0)


def test_seeds_come_from_seed_sequence(table):
    children = np.random.SeedSequence(SHARED_OPTIONS["seed"]).spawn(SHARED_OPTIONS["clips"])
    expected = [int(c.generate_state(1, dtype=np.uint64)[0]) for c in children]
    originals = table[table.kind == "original"]
    assert [int(s) for s in originals.seed] == expected


def test_same_file_from_another_run_with_two_workers(run_cli, tmp_path, monkeypatch):
    other = session_folder() / "two_workers.h5"
    options = dict(SHARED_OPTIONS)
    args = [f"--{key}={value}" for key, value in options.items() if key != "counterfactuals"]
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    result = run_cli("generate", "--out", other, "--workers", "2", "--counterfactuals", *args)
    assert result.returncode == 0, result.stderr
    assert not list(temporary.iterdir())  # workers leave no texture folders behind (they end without atexit)
    a, b = load_all(shared_world()), load_all(other)
    assert sorted(a) == sorted(b)
    for name in a:
        assert np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"), name


def test_content_hash_describes_the_stored_clip(world, table):
    import hashlib

    names = sorted(name for name in world if not name.startswith("clips/") or name in
                   ("clips/gravity", "clips/intrinsics", "clips/extrinsics"))
    for i in (0, len(table) - 1):
        digest = hashlib.sha256()
        for name in names:
            value = np.ascontiguousarray(world[name][i])
            digest.update(f"{name}|{value.dtype.str}|{value.shape}".encode())
            digest.update(value.tobytes())
        assert digest.hexdigest() == table.content_hash[i]
    assert table.content_hash.nunique() == len(table)  # every clip differs somewhere
