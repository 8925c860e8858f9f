"""The JEPA trainer: masks, the objective against transformers' own encoder, EMA, resume, export."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import entropy
from transformers import VJEPA2Config, VJEPA2Model

from probekit.errors import BadOptionError
from probekit.h5io import atomic_h5
from probekit.training.masks import batch_indices, future_mask, multiblock_mask
from probekit.training.monitor import effective_rank
from probekit.training.objective import JEPAObjective
from probekit.training.recipe import TrainRecipe, load_recipe

TINY = dict(
    hidden_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    crop_size=32,
    frames_per_clip=4,
    patch_size=8,
    tubelet_size=2,
    pred_hidden_size=32,
    pred_num_hidden_layers=1,
    pred_num_attention_heads=4,
    mlp_ratio=2.0,
    pred_mlp_ratio=2.0,
)


def tiny_model(seed: int = 0) -> VJEPA2Model:
    torch.manual_seed(seed)
    return VJEPA2Model(VJEPA2Config(**TINY))


def test_multiblock_mask_covers_blocks_over_all_time():
    g = torch.Generator().manual_seed(0)
    mask = multiblock_mask((4, 8, 8), n_blocks=1, scale=0.25, aspect_ratio=(1.0, 1.0), generator=g)
    assert mask.shape == (4, 8, 8)
    assert int(mask[0].sum()) == 16  # one 4x4 block = 25% of 8x8
    assert torch.equal(mask[0], mask[3])  # tubes: the same block at every time step


def test_future_mask_and_batch_indices_are_disjoint_and_equal_length():
    mask = future_mask((4, 2, 2), context_steps=1)
    assert int(mask.sum()) == 12 and not mask[0].any()
    g = torch.Generator().manual_seed(1)
    masks = [multiblock_mask((4, 8, 8), n_blocks=3, scale=0.15, aspect_ratio=(0.75, 1.5), generator=g) for _ in range(5)]
    context, target = batch_indices(masks, g)
    assert context.shape[0] == target.shape[0] == 5
    for c, t, m in zip(context, target, masks):
        flat = m.flatten()
        assert not flat[c].any() and flat[t].all()
        assert len(set(c.tolist()) & set(t.tolist())) == 0
    with pytest.raises(ValueError):
        future_mask((4, 2, 2), context_steps=4)


def test_effective_rank_matches_definition():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(50, 50)))
    equal = q[:, :5] * 3.0  # five equal singular values (columns already centred enough? centre explicitly)
    equal = equal - equal.mean(0)
    s = np.linalg.svd(equal, compute_uv=False)
    assert effective_rank(equal) == pytest.approx(np.exp(entropy(s / s.sum())), rel=1e-9)
    x = rng.normal(size=(200, 10)) @ np.diag([10, 5, 1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.1])
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    assert effective_rank(x) == pytest.approx(np.exp(entropy(s / s.sum())), rel=1e-9)
    collapsed = np.outer(rng.normal(size=100), rng.normal(size=8))
    assert effective_rank(collapsed) < 1.01


def test_context_encoding_of_all_tokens_equals_transformers_encoder():
    model = tiny_model()
    objective = JEPAObjective(model)
    pixels = torch.randn(2, 4, 3, 32, 32)
    n = (4 // 2) * (32 // 8) ** 2
    everything = torch.arange(n).repeat(2, 1)
    with torch.no_grad():
        ours = objective.encode_context(pixels, everything)
        reference = model.encoder(pixel_values_videos=pixels).last_hidden_state
    torch.testing.assert_close(ours, reference)


def test_context_encoder_does_not_see_masked_tokens():
    model = tiny_model()
    objective = JEPAObjective(model)
    pixels = torch.randn(1, 4, 3, 32, 32)
    context = torch.arange(0, 16).unsqueeze(0)  # first tubelet only
    changed = pixels.clone()
    changed[:, 2:] += 5.0  # alter the second tubelet (not in the context)
    with torch.no_grad():
        torch.testing.assert_close(objective.encode_context(pixels, context), objective.encode_context(changed, context))


def test_gradients_reach_context_encoder_and_predictor_and_ema_is_exact():
    model = tiny_model()
    objective = JEPAObjective(model, regularizer_weight=0.5)
    g = torch.Generator().manual_seed(0)
    masks = [multiblock_mask((2, 4, 4), n_blocks=2, scale=0.2, aspect_ratio=(0.75, 1.5), generator=g) for _ in range(3)]
    context, target = batch_indices(masks, g)
    out = objective(torch.randn(3, 4, 3, 32, 32), context, target)
    out["loss"].backward()
    assert model.encoder.layer[0].mlp.fc1.weight.grad.abs().sum() > 0
    assert model.predictor.proj.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in objective.target_encoder.parameters())
    before = [p.clone() for p in objective.target_encoder.parameters()]
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(1.0)
    objective.update_target(0.9)
    for old, new, online in zip(before, objective.target_encoder.parameters(), model.encoder.parameters()):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * online)


@pytest.fixture(scope="module")
def tiny_worlds(tmp_path_factory):
    """Small world files of the generator, or random videos where the generator is absent."""
    folder = tmp_path_factory.mktemp("train-worlds")
    rng = np.random.default_rng(0)
    paths = []
    for name, n in (("train", 12), ("monitor", 6)):
        path = folder / f"{name}.h5"
        with atomic_h5(path, "world") as f:
            f["video/rgb"] = rng.integers(0, 255, (n, 4, 32, 32, 3), dtype=np.uint8)
        paths.append(path)
    return paths


def tiny_recipe(train_path, monitor_path, steps: int = 6) -> TrainRecipe:
    recipe = TrainRecipe()
    for key, value in TINY.items():
        setattr(recipe.model, key, value)
    recipe.data.path, recipe.data.monitor_path, recipe.data.monitor_clips = str(train_path), str(monitor_path), 6
    recipe.data.frames = TINY["frames_per_clip"]
    opt = recipe.optimization
    opt.steps, opt.batch_size, opt.warmup_steps, opt.threads = steps, 3, 2, 1
    opt.log_every, opt.monitor_every, opt.checkpoint_every = 1, 3, 2
    recipe.objective.short_blocks, recipe.objective.long_blocks = 2, 1
    recipe.objective.short_scale, recipe.objective.long_scale = 0.2, 0.4
    recipe.objective.regularizer_weight = 0.1
    return recipe


def test_resume_gives_bitwise_equal_model_and_export_loads_in_transformers(tiny_worlds, tmp_path):
    from safetensors.torch import load_file

    from probekit.training.loop import train

    recipe = tiny_recipe(*tiny_worlds)
    whole = train(recipe, tmp_path / "whole", progress=False)
    assert train(recipe, tmp_path / "split", progress=False, stop_after=3) is None
    with pytest.raises(BadOptionError, match="--resume"):
        train(recipe, tmp_path / "split", progress=False)
    split = train(recipe, tmp_path / "split", resume=True, progress=False)
    a = load_file(str(whole.model_dir / "model.safetensors"))
    b = load_file(str(split.model_dir / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    log_whole = (tmp_path / "whole" / "training_log.jsonl").read_text().splitlines()
    log_split = (tmp_path / "split" / "training_log.jsonl").read_text().splitlines()
    assert [line.split('"seconds"')[0] for line in log_whole] == [line.split('"seconds"')[0] for line in log_split]

    loaded = VJEPA2Model.from_pretrained(whole.model_dir)
    assert (whole.model_dir / "README.md").read_text().count("sha256") == 1
    assert whole.effective_rank_random > 0 and whole.effective_rank_trained > 0


def test_recipe_errors_name_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[objective]\nmasking = 'checkerboard'\n")
    with pytest.raises(BadOptionError, match="masking"):
        load_recipe(bad)
    bad.write_text("[model]\nhidden = 3\n")
    with pytest.raises(BadOptionError, match="unknown key 'hidden'"):
        load_recipe(bad)


@pytest.mark.parametrize(
    "table, line, key",
    [
        ("objective", "regularizer_weight = -0.1", "regularizer_weight"),
        ("objective", "short_scale = 1.5", "short_scale"),
        ("objective", "long_scale = 0", "long_scale"),
        ("objective", "aspect_ratio = [2.0, 1.0]", "aspect_ratio"),
        ("objective", "aspect_ratio = 1.5", "aspect_ratio"),
        ("objective", "ema_start = 1.5", "ema_start"),
        ("objective", "short_blocks = 0", "short_blocks"),
        ("optimization", "lr = -1e-3", "lr"),
        ("optimization", "min_lr = 1.0", "min_lr"),
        ("optimization", "steps = 'many'", "steps"),
        ("optimization", "steps = 2.5", "steps"),
        ("optimization", "batch_size = 1", "batch_size"),
        ("optimization", "weight_decay = -1", "weight_decay"),
        ("optimization", "log_every = 0", "log_every"),
        ("model", "pred_hidden_size = 30", "pred_hidden_size"),
        ("model", "crop_size = 60", "crop_size"),
        ("model", "frames_per_clip = 15", "frames_per_clip"),
        ("model", "mlp_ratio = true", "mlp_ratio"),
        ("data", "frames = 8", "frames"),
        ("data", "monitor_clips = 1", "monitor_clips"),
        ("data", "path = 3", "path"),
    ],
)
def test_recipe_values_that_cannot_train_are_one_line_errors_naming_the_key(tmp_path, table, line, key):
    """Each bad value is refused when the recipe is read (before any world is generated), naming its key."""
    bad = tmp_path / "bad.toml"
    bad.write_text(f"[{table}]\n{line}\n")
    with pytest.raises(BadOptionError, match=key) as info:
        load_recipe(bad)
    assert "\n" not in str(info.value)


def test_training_refuses_worlds_whose_clip_length_is_not_the_models(tiny_worlds, tmp_path):
    from probekit.training.loop import train

    recipe = tiny_recipe(*tiny_worlds)
    recipe.model.frames_per_clip = recipe.data.frames = 8  # the world files hold 4-frame clips
    with pytest.raises(BadOptionError, match="frames_per_clip is 8"):
        train(recipe, tmp_path / "run", progress=False)

    one_clip = tmp_path / "one.h5"
    with atomic_h5(one_clip, "world") as f:
        f["video/rgb"] = np.zeros((1, 4, 32, 32, 3), dtype=np.uint8)
    recipe = tiny_recipe(tiny_worlds[0], one_clip)
    with pytest.raises(BadOptionError, match=r"data.monitor_path .*1 clip\(s\); give a world file with at least 2"):
        train(recipe, tmp_path / "run1", progress=False)


def test_cli_train_bad_recipe_exits_2(run_cli, tmp_path):
    result = run_cli("train", tmp_path / "missing.toml", "--out", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.startswith("error: recipe") and len(result.stderr.strip().splitlines()) == 1


def test_default_recipe_is_the_tiny_vjepa2_architecture():
    import dataclasses

    from probekit.encoders.tiny import TINY_VJEPA2_CONFIG
    from probekit.training.recipe import REPO_RECIPE

    recipe = load_recipe(REPO_RECIPE)
    model = dataclasses.asdict(recipe.model)
    defaults = VJEPA2Config()
    for key, value in TINY_VJEPA2_CONFIG.items():
        assert model.get(key, getattr(defaults, key)) == value, key


def test_exported_weights_load_as_trained_tiny_vjepa2(tmp_path):
    """Two steps of the shipped architecture; the export loads through tiny-vjepa2 and equals transformers."""
    from probekit.encoders.tiny import create_tiny_vjepa2
    from probekit.training.loop import train
    from probekit.training.recipe import REPO_RECIPE
    from probekit.training.ship import ship_model

    rng = np.random.default_rng(1)
    world = tmp_path / "w.h5"
    with atomic_h5(world, "world") as f:
        f["video/rgb"] = rng.integers(0, 255, (3, 16, 64, 64, 3), dtype=np.uint8)
    recipe = load_recipe(
        REPO_RECIPE,
        {
            "data.path": str(world),
            "data.monitor_path": str(world),
            "data.monitor_clips": 3,
            "optimization.steps": 2,
            "optimization.batch_size": 2,
            "optimization.threads": 1,
        },
    )
    result = train(recipe, tmp_path / "run", progress=False)
    shipped = ship_model(result.model_dir, tmp_path / "weights" / "tiny-vjepa2.safetensors")
    assert shipped.with_suffix(".md").exists()
    encoder = create_tiny_vjepa2(weights_path=shipped)
    assert encoder.weights == "trained"
    reference = VJEPA2Model.from_pretrained(result.model_dir).eval()
    ours = encoder.model if hasattr(encoder, "model") else None
    assert ours is not None
    for (name, a), (_, b) in zip(sorted(ours.state_dict().items()), sorted(reference.state_dict().items())):
        assert torch.equal(a, b), name


def test_a_recipe_variant_is_evaluated_against_its_own_twin_and_is_not_shipped(tiny_worlds, tmp_path):
    """A recipe of another architecture (width 48, 2 layers, predictor depth 1, 32 px, 4 frames) loads as
    tiny-vjepa2 with ``weights_path``; its random twin is exactly the model the training started from."""
    from safetensors.torch import load_file

    from probekit.encoders.tiny import architecture_beside, create_tiny_vjepa2, differs_from_tiny
    from probekit.training.loop import model_config, train, training_seed
    from probekit.training.ship import ship_model

    recipe = tiny_recipe(*tiny_worlds, steps=2)
    recipe.optimization.seed = 5
    result = train(recipe, tmp_path / "run", progress=False)
    weights = result.model_dir / "model.safetensors"
    assert training_seed(result.model_dir) == 5
    assert "hidden_size 48 (tiny-vjepa2: 128)" in differs_from_tiny(architecture_beside(weights))

    trained = create_tiny_vjepa2(weights_path=weights)
    assert trained.weights == "trained" and trained.extra_attrs["architecture"].endswith("config.json")
    exported = load_file(str(weights))
    for name, value in trained.model.state_dict().items():
        assert torch.equal(value, exported[name]), name

    twin = create_tiny_vjepa2(init="random", seed=training_seed(result.model_dir), weights_path=weights)
    torch.manual_seed(5)
    initial = VJEPA2Model(model_config(recipe.model)).state_dict()  # what train() built before its first step
    for name, value in twin.model.state_dict().items():
        assert torch.equal(value, initial[name]), name
    assert not torch.equal(twin.model.state_dict()["encoder.layer.0.mlp.fc1.weight"], exported["encoder.layer.0.mlp.fc1.weight"])

    video = np.random.default_rng(0).integers(0, 255, (1, 4, 64, 64, 3), dtype=np.uint8)
    assert twin.pixel_values(video).shape[-2:] == (32, 32)  # the variant's own crop size

    with pytest.raises(BadOptionError, match="not the tiny-vjepa2 architecture"):
        ship_model(result.model_dir, tmp_path / "w" / "tiny-vjepa2.safetensors")
    assert not (tmp_path / "w" / "tiny-vjepa2.safetensors").exists()

    # probekit evaluate of the variant extracts it and its own twin (seed from the run's recipe.json)
    from probekit.store import Store
    from probekit.training.evaluate import RANDOM, TRAINED, evaluate_reference

    evaluation = evaluate_reference(tmp_path / "eval", weights=result.model_dir, clips=6, seed=11, folds=3, n_boot=20,
                                    threads=1, report=False, log=lambda line: None)
    assert evaluation.summary["setup"]["twin_seed"] == 5
    for label, encoder in ((TRAINED, trained), (RANDOM, twin)):
        with Store(tmp_path / "eval" / f"{label}.h5") as store:
            assert store.attrs["weight_hash"] == encoder.weight_hash(), label


def test_cli_ship_of_another_architecture_is_refused_before_training(run_cli, tmp_path):
    recipe = tmp_path / "wide.toml"
    recipe.write_text("[model]\nhidden_size = 192\n[data]\npath = 'w.h5'\nmonitor_path = 'm.h5'\n")
    result = run_cli("train", recipe, "--out", tmp_path / "out", "--ship", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith("error: --ship") and "hidden_size 192" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "w.h5").exists()


def test_cli_train_on_a_file_that_is_no_world_is_refused_before_any_world_is_generated(run_cli, tmp_path):
    """--data naming a latent store: one line naming the key, and the missing monitor world is not generated first."""
    import h5py

    store = tmp_path / "latents.h5"
    with h5py.File(store, "w") as f:  # what probekit extract's files say they are
        f.attrs["format"] = "probekit.store"
    recipe = tmp_path / "r.toml"
    recipe.write_text("[optimization]\nsteps = 2\n[data]\nmonitor_path = 'm.h5'\n")
    result = run_cli("train", recipe, "--out", tmp_path / "out", "--data", store, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: recipe data.path:") and "not a probekit.world file" in lines[0]
    assert not (tmp_path / "m.h5").exists()
