"""Device and precision paths, exercised on the CPU (no GPU needed).

Truth: transformers' model run by hand under torch's own autocast; pydantic-validated suites;
the prepared GPU script run end to end with a tiny model.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _worlds import generated_world

from probekit.errors import BadOptionError
from probekit.extraction import ExtractConfig, run_extract
from probekit.h5io import open_checked
from probekit.store import Store

REPO = Path(__file__).resolve().parents[1]
N_FRAMES = 8


@pytest.fixture(scope="module")
def tiny_vjepa2(tmp_path_factory):
    from transformers import VJEPA2Config, VJEPA2Model, VJEPA2VideoProcessor

    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(3)
    config = VJEPA2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, crop_size=64, frames_per_clip=8,
                          patch_size=16, tubelet_size=2, pred_hidden_size=32, pred_num_hidden_layers=1,
                          pred_num_attention_heads=2, mlp_ratio=2)
    VJEPA2Model(config).save_pretrained(folder)
    VJEPA2VideoProcessor(crop_size=64).save_pretrained(folder)
    return folder


def _tokens(world, folder, tmp_path, precision: str) -> Store:
    out = tmp_path / f"{precision}.h5"
    run_extract(ExtractConfig(data=str(world), out=str(out), encoder=f"hf:{folder}", pool="none", dtype="float32", batch_size=2,
                              device="cpu", precision=precision, progress=False, window=N_FRAMES))
    return Store(out)


def test_bf16_autocast_equals_the_model_under_torch_autocast(tiny_vjepa2, tmp_path):
    from transformers import AutoModel, AutoVideoProcessor

    world = generated_world(2, seed=1)
    bf16, fp32 = _tokens(world, tiny_vjepa2, tmp_path, "bf16"), _tokens(world, tiny_vjepa2, tmp_path, "fp32")
    with open_checked(world, "world") as f:
        video = f["video/rgb"][:, :N_FRAMES]
    processor = AutoVideoProcessor.from_pretrained(tiny_vjepa2)
    model = AutoModel.from_pretrained(tiny_vjepa2).eval()
    pixels = processor(videos=list(video), return_tensors="pt")["pixel_values_videos"]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(pixels, output_hidden_states=True, skip_predictor=True).hidden_states
    with torch.no_grad():
        full = model(pixels, output_hidden_states=True, skip_predictor=True).hidden_states
    assert bf16.attrs["precision"] == "bf16" and fp32.attrs["precision"] == "fp32"
    last = len(full) - 1
    for store, reference in ((bf16, low), (fp32, full)):
        got = store.features(last, "tokens").reshape(2, -1, 32)
        np.testing.assert_allclose(got, reference[last].float().numpy(), rtol=1e-5, atol=1e-5)
    # bf16 keeps 8 bits of mantissa: the two stores differ by far more than float32 rounding
    assert np.abs(bf16.features(last, "tokens") - fp32.features(last, "tokens")).max() > 1e-3


def test_unknown_precision_is_refused():
    from probekit.encoders.base import Encoder

    encoder = Encoder()
    encoder.precision = "fp8"
    with pytest.raises(BadOptionError, match="--precision 'fp8'"):
        encoder.autocast()


def test_torch_readout_params_take_grids():
    from probekit.evaluation.suite import readout_params_model
    from probekit.validation import validate

    model = readout_params_model("attentive")
    validate(model, {"lr": [1e-4, 1e-3], "weight_decay": [0.01, 0.1], "width": 16}, "suite")
    for bad in ({"lr": []}, {"lr": [-1.0]}, {"width": [0]}):
        with pytest.raises(BadOptionError):
            validate(model, bad, "suite")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given where no CUDA device exists")
def test_probe_device_cuda_without_a_gpu_is_one_error_line(tmp_path, run_cli):
    from probekit.testing import write_planted_store

    store = write_planted_store(tmp_path / "s.h5", forms=("linear",), dim=4, n_clips=10, n_steps=2, seed=1)
    proc = run_cli("probe", store, "--out", tmp_path / "run", "--suite", "quick", "--readouts", "mlp", "--device", "cuda", "--quiet")
    assert proc.returncode == 2 and proc.stderr.strip() == "error: --device cuda: no CUDA device is available; use --device cpu or auto"


@pytest.mark.slow  # world, two extractions and an attentive grid: a few minutes on 2 busy cores
def test_gpu_check_script_runs_tiny_on_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--tiny", "--json", str(out)],
                          capture_output=True, text=True, timeout=1200, env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())
    assert results["device"] == "cpu" and results["tiny"] is True
    for key in ("bare_forward_s_per_clip", "extract_default_pools_s_per_clip", "extract_full_tokens_s_per_clip", "attentive_grid_s"):
        assert results[key] > 0, key
    # full tokens hold every token of every layer: a bigger store than the pooled one
    assert results["extract_full_tokens_MB_per_clip"] > results["extract_default_pools_MB_per_clip"]
    assert len(results["attentive_r2"]) >= 1
