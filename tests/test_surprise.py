"""Violation-of-expectation surprise: predictor surprise on the real tiny V-JEPA 2, physics oracles, the stage."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from probekit.extraction.surprise import SurpriseWindows, WindowSurprise, frame_difference_surprise, predictor_surprise
from probekit.metrics.voe import relative_accuracy

PRINCIPLE_SCENARIOS = "drop,occlude"
PRINCIPLE_VIOLATIONS = "gravity,continuity,permanence"


@pytest.fixture(scope="module")
def voe_world(tmp_path_factory):
    """Real pybullet worlds: 24 drop families (gravity, continuity twins), 24 occlude families (permanence twins)."""
    from probekit.worlds import generate_world

    path = tmp_path_factory.mktemp("voe") / "voe.h5"
    return generate_world(path, clips=48, seed=5, scenarios=PRINCIPLE_SCENARIOS, frames=16, size=32,
                          violations=PRINCIPLE_VIOLATIONS, workers=1, progress=False)


@pytest.fixture(scope="module")
def tiny():
    from probekit.encoders import create_encoder

    return create_encoder("tiny-vjepa2")


def _pairs(world, principle):
    from probekit.data.worlds import WorldFile

    with WorldFile(world) as w:
        clips = w.clips()
    originals = {f: i for i, (f, k) in enumerate(zip(clips["family_id"], clips["kind"])) if k == "original"}
    twins = clips[clips["violation"] == principle]
    return [(originals[f], i, int(v)) for i, f, v in zip(twins.index, twins["family_id"], twins["violation_frame"])]


# -- prefix-only context ---------------------------------------------------------------------------

def test_context_tokens_see_only_the_context_frames_on_the_real_tiny_model(tiny):
    model = tiny.model
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(16, 64, 64, 3), dtype=np.uint8)
    b = a.copy()
    b[4:] = rng.integers(0, 256, size=(12, 64, 64, 3), dtype=np.uint8)  # every frame after frame 3 changed
    pixels = tiny.pixel_values(np.stack([a, b]))[:, :8]
    seen = []
    hook = model.predictor.register_forward_pre_hook(lambda m, args, kwargs: seen.append(kwargs["encoder_hidden_states"].clone()),
                                                     with_kwargs=True)
    try:
        predictor_surprise(model, pixels, (2, 4, 6))
    finally:
        hook.remove()
    for context, tokens in zip((2, 4), seen[:2]):
        assert tokens.shape[1] == context // 2 * 64
        assert torch.equal(tokens[0], tokens[1]), f"context of {context} frames saw a later frame"
    assert not torch.equal(seen[2][0], seen[2][1])  # a 6-frame context includes changed frames 4 and 5
    with torch.no_grad():  # a whole-window pass would leak: its first tubelet's tokens change with later frames
        full = model.encoder(pixel_values_videos=pixels).last_hidden_state
    assert not torch.allclose(full[0, :64], full[1, :64])


def test_window_surprise_equals_direct_calls_and_shares_pre_violation_windows(tiny):
    rng = np.random.default_rng(1)
    original = rng.integers(0, 256, size=(16, 64, 64, 3), dtype=np.uint8)
    twin = original.copy()
    frame = 10  # the "violation": frames 10.. differ
    twin[frame:] = rng.integers(0, 256, size=(16 - frame, 64, 64, 3), dtype=np.uint8)
    surprise = WindowSurprise(tiny)
    values = surprise(np.stack([original, twin]))
    starts = SurpriseWindows().starts(16)
    assert values.shape == (2, 3, len(starts))
    shared = starts + 8 <= frame  # windows that end before the violation frame are bitwise the same frames
    assert shared.sum() == 2
    assert surprise.computed == 2 * len(starts) - shared.sum()
    assert np.array_equal(values[0][:, shared], values[1][:, shared])
    assert (values[0][:, ~shared] != values[1][:, ~shared]).all()
    pixels = tiny.pixel_values(twin[None])
    for j in (0, len(starts) - 1):  # one bare call per window
        s = starts[j]
        direct = predictor_surprise(tiny.model, pixels[:, s:s + 8], (2, 4, 6)).numpy()[0]
        np.testing.assert_allclose(values[1, :, j], direct, rtol=1e-5, atol=1e-6)


# -- physics oracles -------------------------------------------------------------------------------

def _first_contact(world, index):
    from probekit.data.worlds import WorldFile

    with WorldFile(world) as w:
        contact = w.read("objects/contact_interval", [index])[0, :, 0] | w.read("objects/impulse", [index])[0, :, 0]
    return int(np.argmax(contact)) if contact.any() else len(contact)


def _free_flight_start(world, index):
    """First frame from which slot 0 is no longer held (0 when it never is): acceleration is constant after it."""
    from probekit.data.worlds import WorldFile

    with WorldFile(world) as w:
        if "objects/held" not in w.dataset_names:
            return 0
        held = w.read("objects/held", [index])[0, :, 0].astype(bool)
    return int(len(held) - np.argmax(held[::-1])) if held.any() else 0


@pytest.mark.parametrize("principle", ["gravity", "continuity"])
def test_constant_acceleration_oracle_detects_gravity_and_continuity_twins(voe_world, principle):
    from probekit.data.worlds import WorldFile

    with WorldFile(voe_world) as w:
        position = w.read("objects/position_world")[:, :, 0].astype(np.float64)  # (N, T, 3), slot 0 = the dropped object
    # prediction error of a constant-acceleration model: x_t - (3 x_{t-1} - 3 x_{t-2} + x_{t-3})
    error = np.full(position.shape[:2], np.nan)
    error[:, 3:] = np.linalg.norm(position[:, 3:] - 3 * position[:, 2:-1] + 3 * position[:, 1:-2] - position[:, :-3], axis=-1)
    possible, impossible = [], []
    for original, twin, frame in _pairs(voe_world, principle):
        if principle == "gravity" and frame < 3:
            continue  # g changed before three frames fixed the acceleration: no model of constant acceleration can tell
        end = min(_first_contact(voe_world, original), _first_contact(voe_world, twin))
        start = max(_free_flight_start(voe_world, original), _free_flight_start(voe_world, twin)) + 3
        # windows of free flight: after the release (three frames fix the acceleration), before contact
        keep = (np.arange(error.shape[1]) < end) & (np.arange(error.shape[1]) >= start)
        if frame < start - 3 or not keep[frame:frame + 4].any():
            continue  # the violation falls outside free flight: no window of constant acceleration sees it
        if np.abs(position[twin, keep] - position[original, keep]).max() < 1e-4:
            continue  # the twin moves as the original there (the object was resting): nothing to see
        possible.append(np.where(keep, error[original], np.nan))
        impossible.append(np.where(keep, error[twin], np.nan))
    assert len(possible) >= 10
    assert relative_accuracy(np.array(possible), np.array(impossible), "mean") >= 0.95
    assert relative_accuracy(np.array(possible), np.array(impossible), "max") >= 0.95


def test_frame_difference_baseline_is_at_most_chance_on_permanence(voe_world):
    from probekit.data.worlds import WorldFile

    pairs = _pairs(voe_world, "permanence")
    assert len(pairs) >= 10
    with WorldFile(voe_world) as w:
        video = w.read("video/rgb")
    energy = frame_difference_surprise(video)[:, 1]  # headline context: 4 frames
    last = SurpriseWindows().starts(16) + 7
    a = np.array([np.where(last >= v, energy[o], np.nan) for o, _, v in pairs])
    b = np.array([np.where(last >= v, energy[t], np.nan) for _, t, v in pairs])
    # a vanished mover lowers motion energy: the impossible clip is never the more "surprising" one
    assert relative_accuracy(a, b, "mean") <= 0.5
    assert (np.nanmean(b, axis=1) <= np.nanmean(a, axis=1) + 1e-9).all()


# -- command line ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_extract_surprise_stores_windows_of_every_clip(run_cli, tmp_path, tiny):
    from _worlds import generated_world

    world = generated_world()
    out = tmp_path / "s.h5"
    result = run_cli("extract", "--data", str(world), "--out", str(out), "--surprise", "--max-clips", "3",
                     "--layers", "-1", "--no-progress")
    assert result.returncode == 0, result.stderr
    with h5py.File(out, "r") as f:
        values = f["surprise/predictor"][()]
        assert values.shape == (3, 3, 5) and np.isfinite(values).all()
        assert f["surprise/context_frames"][()].tolist() == [2, 4, 6]
        assert f["surprise/window_frames"][()].tolist() == [[0, 7], [2, 9], [4, 11], [6, 13], [8, 15]]
        assert f["surprise/predicted_frames"][1, :, 0].tolist() == [4, 6, 8, 10, 12]
        assert json.loads(f.attrs["surprise"])["headline_context"] == 4
    from probekit.data.worlds import WorldFile

    with WorldFile(world) as w:
        video = w.read("video/rgb", slice(0, 3))
    np.testing.assert_allclose(values, WindowSurprise(tiny)(video), rtol=1e-5, atol=1e-6)


def test_extract_surprise_refuses_encoders_without_predictor(run_cli, tmp_path):
    from _worlds import generated_world

    bad = run_cli("extract", "--data", str(generated_world(clips=2)), "--out", str(tmp_path / "p.h5"), "--encoder", "pixels", "--surprise",
                  "--max-clips", "2", "--no-progress")
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --surprise: encoder 'pixels' has no V-JEPA 2 predictor")


def test_generate_voe_preset_covers_every_principle_and_refuses_conflicts(run_cli, tmp_path):
    from probekit.worlds import VOE_PRESET
    from probekit.worlds.violations import VIOLATIONS

    scenarios = VOE_PRESET["scenarios"].split(",")
    for principle in VOE_PRESET["violations"].split(","):  # one twin per family of its scenario
        assert VIOLATIONS[principle][0] in scenarios
        assert VOE_PRESET["clips"] // len(scenarios) >= 60
    bad = run_cli("generate", "--voe", "--scenarios", "drop", "--out", str(tmp_path / "w.h5"))
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --voe sets --scenarios; drop it or drop --voe"


# -- the stage on planted signals ------------------------------------------------------------------

def _planted_voe_store(path, n_families=30, steps=8, dim=6, seed=0):
    """Originals follow linear latent dynamics; gravity twins jump at the violation step, permanence twins are bitwise the original."""
    from probekit.h5io import set_attr

    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    clips = {"clip_id": [], "family_id": [], "scenario": [], "kind": [], "violation": []}
    latents, frames, predictor = [], [], []
    n_windows = 5
    for fam in range(n_families):
        z = np.empty((steps, dim))
        z[0] = rng.normal(size=dim)
        for t in range(1, steps):
            z[t] = z[t - 1] @ rotation + 0.01 * rng.normal(size=dim)
        base = rng.uniform(0.3, 0.4, size=(3, n_windows))
        v_step = int(rng.integers(3, steps - 1))
        jumped = z.copy()
        jumped[v_step:] += 3.0 * rng.normal(size=dim)
        for kind, violation, lat, surprise, frame in (
            ("original", "", z, base, -1),
            ("violation", "gravity", jumped, base + np.where(np.arange(n_windows) * 2 + 7 >= 2 * v_step, 0.2, 0.0), 2 * v_step),
            ("violation", "permanence", z, base, 2 * v_step),
        ):
            clips["clip_id"].append(f"f{fam}-{violation or 'o'}")
            clips["family_id"].append(f"f{fam}")
            clips["scenario"].append("drop")
            clips["kind"].append(kind)
            clips["violation"].append(violation)
            latents.append(lat)
            predictor.append(surprise)
            frames.append(frame)
    from probekit.testing.planted import synthetic_labels, write_planted_store

    labels, _, token_frames = synthetic_labels(n_clips=len(latents), n_steps=steps, seed=seed)
    labels["clip/violation_frame"] = np.array(frames, dtype=np.int32)
    write_planted_store(path, labels, clips, token_frames, forms=("linear",), dim=dim, seed=seed,
                        attrs={"encoder": "planted-voe"})
    with h5py.File(path, "a") as f:
        f["layers/0/time"][...] = np.array(latents)  # the planted dynamics replace the planted layer's time features
        f["surprise/predictor"] = np.array(predictor, dtype=np.float32)
        f["surprise/context_frames"] = np.array([2, 4, 6], dtype=np.int32)
        starts = np.arange(n_windows) * 2
        f["surprise/predicted_frames"] = np.stack([np.stack([starts + c, starts + 7], axis=1) for c in (2, 4, 6)]).astype(np.int32)
        set_attr(f, "surprise", {"headline_context": 4})
    return path


def test_surprise_stage_recovers_planted_violations(tmp_path):
    from probekit.stages import StageContext
    from probekit.stages.surprise import run as run_stage
    from probekit.store import Store

    path = _planted_voe_store(tmp_path / "planted.h5")

    class Item:
        store, label, control = Store(path), "planted", "none"

    table = run_stage(StageContext([Item()], tmp_path, params={"n_boot": 100}))
    scores = table[table["metric"] == "relative_accuracy_mean"].set_index(["method", "context", "layer", "principle"])["score"]
    # planted: gravity twins are more surprising after the violation, permanence twins are identical (all ties)
    assert scores[("predictor", 4, -1, "gravity")] == 1.0
    assert scores[("predictor", 4, -1, "permanence")] == 0.5
    assert scores[("dynamics", 2, 0, "gravity")] >= 0.95
    assert scores[("dynamics", 2, 0, "permanence")] == 0.5
    head = table[(table["metric"] == "relative_accuracy_mean") & table["headline"]]
    assert sorted(head["context"][head["method"] == "predictor"]) == [4, 4]
    assert ((table["ci_low"] <= table["score"] + 1e-12) | table["ci_low"].isna()).all()


@pytest.mark.slow
def test_surprise_section_in_the_report_of_a_probe_run(tmp_path):
    from probekit.evaluation import run_probe
    from probekit.report.build import write_report
    from probekit.rundir import load_run

    path = _planted_voe_store(tmp_path / "planted.h5")
    out = tmp_path / "run"
    run_probe([path], out, suite="quick", readouts=["linear"], targets=["speed"], folds=2, n_boot=20, stages=["surprise"])
    run = load_run(out)
    assert "surprise" in run.stages
    html = write_report(out, tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="surprise"' in html and "Relative accuracy per layer" in html and "no probe target for shape or colour" in html


def test_surprise_stage_skips_runs_without_twins(tmp_path):
    from probekit.stages import StageContext, StageSkipped
    from probekit.stages.surprise import run as run_stage
    from probekit.store import Store
    from probekit.testing.planted import write_planted_store

    path = write_planted_store(tmp_path / "p.h5", n_clips=12, n_steps=4, dim=4)

    class Item:
        store, label, control = Store(path), "planted", "none"

    with pytest.raises(StageSkipped, match="no violation twins"):
        run_stage(StageContext([Item()], tmp_path))
