"""Attribution maps (probekit attribute): scores against hand computations, captum's completeness,
the randomisation sanity check, a planted mask-only model, and the command end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from probekit.attribution.methods import MethodOptions, ablation_groups, get_method
from probekit.attribution.model import LinearProbe, ProbedEncoder, encoder_input
from probekit.attribution.randomisation import randomised_copies, random_probe
from probekit.attribution.scores import energy_pointing_game, mask_share, pointing_game, rank_correlation


REPO_ROOT = Path(__file__).resolve().parents[1]


def _cli(*args, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "probekit", *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=REPO_ROOT, timeout=timeout)


def test_energy_pointing_game_equals_a_hand_computation():
    attribution = np.array([[1.0, -2.0, 0.0], [3.0, 4.0, 0.5], [0.0, 0.0, 1.5]])
    mask = np.zeros((3, 3), bool)
    mask[1, 0:2] = True  # row 1 (y), columns 0-1 (x): values 3 and 4
    positive_total = 1 + 3 + 4 + 0.5 + 1.5
    assert energy_pointing_game(attribution, mask) == pytest.approx(7 / positive_total)
    assert mask_share(mask) == pytest.approx(2 / 9)
    assert np.isnan(energy_pointing_game(attribution, np.zeros((3, 3), bool)))  # empty mask: NaN, stated
    assert np.isnan(energy_pointing_game(-np.abs(attribution), mask))  # no positive mass


def test_pointing_game_rows_are_y_and_tolerance_is_strict():
    attribution = np.zeros((2, 5, 5))
    attribution[1, 0, 4] = 9.0  # frame 1, row 0, column 4
    mask = np.zeros((2, 5, 5), bool)
    mask[1, 0, 4] = True
    assert pointing_game(attribution, mask) == 1.0
    assert pointing_game(attribution, mask.transpose(0, 2, 1)) == 0.0  # x/y swapped: a miss
    near = np.zeros((2, 5, 5), bool)
    near[1, 0, 2] = True  # two columns away
    assert pointing_game(attribution, near) == 0.0
    assert pointing_game(attribution, near, tolerance=2.0) == 0.0  # distance 2 is not < 2
    assert pointing_game(attribution, near, tolerance=2.01) == 1.0
    other_frame = np.zeros((2, 5, 5), bool)
    other_frame[0, 0, 4] = True
    assert pointing_game(attribution, other_frame, tolerance=3) == 0.0  # a hit needs the same frame
    assert np.isnan(pointing_game(attribution, np.zeros_like(mask)))


class _MaskOnly(torch.nn.Module):
    """Output = weighted sum of the input's pixels inside one object's mask (nothing else counts)."""

    def __init__(self, mask: np.ndarray, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        weights = torch.rand((1, *mask.shape), generator=g) + 0.1
        self.register_buffer("weights", weights * torch.from_numpy(mask).float())

    def forward(self, x):
        return (x * self.weights).flatten(1).sum(1)


@pytest.mark.parametrize("method", ["ig", "saliency", "occlusion"])
def test_planted_mask_only_model_puts_its_mass_in_the_mask(method):
    rng = np.random.default_rng(0)
    t, c, h, w = 4, 3, 16, 16
    masks = np.zeros((t, 2, h, w), bool)
    masks[:, 0, 3:8, 4:10] = True   # object 0, the one the output depends on
    masks[:, 1, 10:14, 9:15] = True  # object 1
    model = _MaskOnly(np.broadcast_to(masks[:, 0][:, None], (t, c, h, w)).copy())
    x = torch.from_numpy(rng.uniform(0.2, 1.0, size=(1, t, c, h, w))).float().requires_grad_(True)
    function = get_method(method)
    kwargs = {"tubelet": 1, "patch": 1} if method == "occlusion" else {}
    attribution, _ = function(model, x, torch.zeros_like(x), MethodOptions(n_steps=16), None, **kwargs)
    amap = attribution.detach().sum(dim=2)[0].numpy()
    assert energy_pointing_game(amap, masks[:, 0]) >= 0.8
    assert pointing_game(amap, masks[:, 0]) == 1.0
    assert energy_pointing_game(amap, masks[:, 1]) <= 0.05  # nothing leaks to the other object


def test_feature_ablation_groups_follow_objects_and_frames():
    masks = np.zeros((2, 2, 4, 4), bool)
    masks[:, 0, :2, :2] = True
    masks[1, 1, 2:, 2:] = True
    groups = ablation_groups(masks, (1, 2, 3, 4, 4))[0, :, 0].numpy()
    assert groups[0, 0, 0] == 0 and groups[0, 3, 3] == 2  # frame 0: object 0, background (K = 2)
    assert groups[1, 0, 0] == 3 and groups[1, 3, 3] == 4 and groups[1, 2, 0] == 5  # frame 1 groups are offset by K + 1
    assert len(np.unique(groups)) == 5  # object 1 is absent from frame 0


@pytest.fixture(scope="module")
def tiny_encoder():
    from probekit.encoders import create_encoder

    encoder = create_encoder("tiny-vjepa2")
    for module in encoder.modules():
        module.eval().requires_grad_(False)
    return encoder


def _probe_model(encoder, dtype=torch.float32, seed=0):
    video = np.random.default_rng(seed).integers(0, 256, size=(1, 16, 64, 64, 3), dtype=np.uint8)
    layout = encoder.layout(16, 64, 64)
    width = encoder.config["hidden_size"]
    coef = np.random.default_rng(seed + 1).standard_normal((1, width)) / np.sqrt(width)
    probe = LinearProbe(coef, np.zeros(1), "time")
    return video, layout, probe


def test_integrated_gradients_is_complete_on_tiny_vjepa2_in_float64(tiny_encoder):
    import copy

    encoder = copy.deepcopy(tiny_encoder)
    encoder.model.double()
    video, layout, probe = _probe_model(encoder)
    model = ProbedEncoder(encoder, 4, probe, step=3, layout=layout)
    x = encoder_input(encoder, video).double()
    baseline = encoder_input(encoder, np.zeros_like(video)).double()
    attribution, delta = get_method("ig")(model, x.requires_grad_(True), baseline, MethodOptions(n_steps=64, internal_batch_size=16), None)
    with torch.no_grad():
        difference = float(model(x)[0] - model(baseline)[0])
    gap = abs(difference)
    assert gap > 0
    assert abs(float(attribution.detach().sum()) - difference) <= 0.01 * gap
    assert delta <= 0.01 * gap


def test_saliency_does_not_survive_full_randomisation(tiny_encoder):
    rhos = []
    for seed in (0, 1):
        video, layout, probe = _probe_model(tiny_encoder, seed=seed)
        x = encoder_input(tiny_encoder, video)
        saliency = get_method("saliency")
        original, _ = saliency(ProbedEncoder(tiny_encoder, 6, probe, 3, layout), x.clone().requires_grad_(True), None, MethodOptions(), None)
        *_, (name, randomised) = randomised_copies(tiny_encoder, seed)
        assert name == "embeddings"
        shuffled = LinearProbe(random_probe(probe.coef, seed), probe.intercept, "time")
        after, _ = saliency(ProbedEncoder(randomised, 6, shuffled, 3, layout), x.clone().requires_grad_(True), None, MethodOptions(), None)
        rhos.append(rank_correlation(original.sum(dim=2)[0].numpy(), after.sum(dim=2)[0].numpy()))
    assert np.mean(rhos) <= 0.3
    # the caller's encoder is untouched by the cascade
    video, layout, probe = _probe_model(tiny_encoder)
    from probekit.encoders import create_encoder

    assert tiny_encoder.weight_hash() == create_encoder("tiny-vjepa2").weight_hash()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attr")
    world, tiny, pixels, run = tmp / "w.h5", tmp / "tiny.h5", tmp / "pix.h5", tmp / "run"
    for args in (
        ("generate", "--out", world, "--clips", "10", "--frames", "16", "--size", "64", "--seed", "1", "--scenarios", "drop,collide"),
        ("extract", "extract/tiny-vjepa2.toml", "--data", world, "--out", tiny, "--layers", "0,3,6"),
        ("extract", "--encoder", "pixels", "--data", world, "--out", pixels),
        ("probe", tiny, pixels, "--out", run, "--suite", "quick", "--readouts", "linear", "--targets", "contact,velocity",
         "--folds", "2", "--n-boot", "20", "--quiet"),
    ):
        done = _cli(*args)
        assert done.returncode == 0, done.stderr[-2000:]
    return world, run


@pytest.mark.slow  # several minutes on 2 cores: kept out of the default run
def test_attribute_end_to_end_writes_maps_table_and_report(tiny_run, tmp_path):
    import h5py

    from probekit.rundir import load_run

    world, run_dir = tiny_run
    done = _cli("attribute", run_dir, "--data", world, "--targets", "contact,velocity", "--method", "saliency,ig",
                          "--clips", "2", "--sanity-clips", "1", "--n-steps", "8", "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    run = load_run(run_dir)
    assert "attribution" in run.stages
    table = run.table("attribution")
    assert set(table["store"]) >= {"tiny-vjepa2", "pixels"} or len(set(table["store"])) == 2
    energy = table[table["metric"] == "energy_pointing_game"]
    assert ((energy["value"] >= 0) & (energy["value"] <= 1)).all()
    cascade = table[table["metric"] == "randomisation_spearman"]
    assert len(cascade) and "probe" in set(cascade["step"])
    with h5py.File(run_dir / "attribution.h5", "r") as handle:
        maps = handle["maps"]
        store = next(iter(maps))
        group = maps[store]["velocity"]["slot0"]["ig"]
        assert group["map"].shape[1:] == (16, 64, 64)  # frame pixels of the world file
        assert group["frame"].shape[1:] == (64, 64, 3)
    assert not (run_dir / ".attribution-units").exists()
    report = _cli("report", run_dir, "--out", tmp_path / "r.html")
    assert report.returncode == 0, report.stderr[-2000:]
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="attribution"' in html and "Energy in object" in html and "data:image/svg+xml" in html


def test_attribute_refuses_another_world_file_in_one_line(tiny_run, tmp_path):
    world, run_dir = tiny_run
    other = tmp_path / "other.h5"
    assert _cli("generate", "--out", other, "--clips", "2", "--frames", "16", "--size", "64", "--seed", "2",
                          "--scenarios", "drop").returncode == 0
    done = _cli("attribute", run_dir, "--data", other, "--clips", "1")
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "not the world file" in lines[0]
    bad = _cli("attribute", run_dir, "--data", world, "--method", "gradcam")
    assert bad.returncode == 2 and "use one of ig, saliency" in bad.stderr


@pytest.mark.parametrize("option, value, expect", [
    ("--slots", "9", "--slots 9: the world file has"),
    ("--slots", "-1", "--slots -1: slots are numbered from 0"),
    ("--slots", "", "--slots: empty"),
    ("--targets", "", "--targets: empty"),
    ("--method", "", "--method: empty"),
    ("--layer", "-1", "--layer -1: layers are numbered from 0"),
    ("--device", "tpu", "--device 'tpu'"),
    ("--device", "cuda:x", "--device 'cuda:x'"),
])
def test_attribute_refuses_bad_options_in_one_line_and_writes_nothing(tiny_run, option, value, expect):
    """Out-of-range slots and layers, empty lists and unknown devices: one error line, exit 2, no file."""
    world, run_dir = tiny_run
    before = sorted(p.name for p in run_dir.rglob("*"))
    done = _cli("attribute", run_dir, "--data", world, "--clips", "1", "--sanity-clips", "0", option, value)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith(f"error: {expect}"), lines[0]
    assert sorted(p.name for p in run_dir.rglob("*")) == before


def test_attribute_is_refused_while_another_process_writes_the_run(tiny_run):
    """probe --out holds the run directory's lock: attribute waits for no one and writes nothing meanwhile."""
    from probekit.formats.atomic import exclusive_output

    world, run_dir = tiny_run
    before = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")}
    with exclusive_output(run_dir):  # what a probe run on this directory holds while it writes
        done = _cli("attribute", run_dir, "--data", world, "--clips", "1", "--sanity-clips", "0")
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and f"process {os.getpid()}" in lines[0], done.stderr
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*")} == before


def test_attribute_on_a_missing_gpu_is_one_error_line(tiny_run):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    world, run_dir = tiny_run
    for device in ("cuda", "cuda:1"):
        done = _cli("attribute", run_dir, "--data", world, "--clips", "1", "--device", device)
        assert done.returncode == 2 and done.stderr.strip() == f"error: --device {device}: no CUDA device is available; use --device cpu or auto"


def test_interrupted_attribute_resumes_to_the_same_maps_and_table(tiny_run):
    import shutil

    import h5py

    from probekit.attribution import AttributeConfig, run_attribute
    from probekit.formats.atomic import set_write_hook
    from probekit.rundir import load_run

    world, run_dir = tiny_run
    # siblings of the run: its manifest names the stores relative to the run directory
    whole, resumed = run_dir.with_name("run-whole"), run_dir.with_name("run-resumed")
    for copy in (whole, resumed):
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(run_dir, copy)
        for leftover in ("attribution.h5", "tables/attribution.parquet", "tables/attribution.csv"):
            (copy / leftover).unlink(missing_ok=True)

    pixels = [label for label in load_run(run_dir).stores if "pixels" in label]

    def config(run):
        return AttributeConfig(run=run, data=world, targets=["velocity"], methods=["saliency"], clips=3, sanity_clips=0,
                               stores=pixels, n_boot=50)

    run_attribute(config(whole))

    class Crash(RuntimeError):
        pass

    seen = []

    def crash_at_second_unit(path):
        if path.parent.name == ".attribution-units":
            seen.append(path)
            if len(seen) == 2:
                raise Crash(str(path))

    previous = set_write_hook(crash_at_second_unit)
    try:
        with pytest.raises(Crash):
            run_attribute(config(resumed))
    finally:
        set_write_hook(previous)
    assert not (resumed / "attribution.h5").exists()  # nothing half-written looks complete
    assert len(list((resumed / ".attribution-units").glob("*.npz"))) == 1
    run_attribute(config(resumed))
    a, b = load_run(whole).table("attribution"), load_run(resumed).table("attribution")
    assert a.equals(b)
    with h5py.File(whole / "attribution.h5", "r") as ha, h5py.File(resumed / "attribution.h5", "r") as hb:
        names = []
        ha.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        for name in names:
            assert np.array_equal(ha[name][()], hb[name][()], equal_nan=True), name


def test_probed_layer_tokens_stop_at_the_layer_and_equal_the_full_forward(tiny_encoder):
    """Blocks above the probed layer are skipped: the tokens and their gradients are transformers' own."""
    from transformers import VideoMAEConfig, VideoMAEModel

    from probekit.attribution.model import _hidden_state, layer_tokens

    video, layout, _ = _probe_model(tiny_encoder)
    x = encoder_input(tiny_encoder, video)
    model = tiny_encoder.model
    n_blocks = len(model.encoder.layer)
    for layer in range(n_blocks + 1):
        full_input = x.clone().requires_grad_(True)
        full = model(full_input, output_hidden_states=True, skip_predictor=True).hidden_states[layer]
        full_input_grad, = torch.autograd.grad(full.square().sum(), full_input)
        cut_input = x.clone().requires_grad_(True)
        cut = layer_tokens(tiny_encoder, cut_input, layer, layout)
        cut_input_grad, = torch.autograd.grad(cut.square().sum(), cut_input)
        n_special = full.shape[1] - int(np.prod(layout.grid))
        torch.testing.assert_close(cut.reshape(1, -1, full.shape[-1]), full[:, n_special:], rtol=0, atol=0)
        torch.testing.assert_close(cut_input_grad, full_input_grad, rtol=1e-5, atol=1e-7)

    videomae = VideoMAEModel(VideoMAEConfig(image_size=32, patch_size=16, num_frames=4, tubelet_size=2, hidden_size=16,
                                            num_hidden_layers=3, num_attention_heads=2, intermediate_size=32)).eval()
    clip = torch.randn(1, 4, 3, 32, 32)
    with torch.no_grad():
        reference = videomae(clip, output_hidden_states=True).hidden_states
        for layer in range(len(reference)):
            torch.testing.assert_close(_hidden_state(videomae, layer, lambda: videomae(clip, output_hidden_states=True)),
                                       reference[layer], rtol=0, atol=0)
