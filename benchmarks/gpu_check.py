"""GPU check: extraction of a ViT-L-size V-JEPA 2 (random weights) and an attentive-probe grid.

Prepared to run as one short script wherever a GPU is available (a few minutes on one modern
GPU); ``--tiny`` runs the same steps with a tiny model on the CPU (a test calls it).

Steps, each timed:

1. a world file of ``--clips`` clips of 16 frames at 256 px (``--workers`` processes);
2. transformers' ``VJEPA2Model`` from ``VJEPA2Config()`` (the ViT-L hub model's sizes: width 1,024,
   24 layers, 2,048 tokens per clip) with seeded random weights, saved with ``save_pretrained``
   and loaded through ``hf:<folder>`` like any hub model (no download);
3. the bare forward: the model's own processor, the copy to the device and the model with
   ``output_hidden_states`` under the same autocast, batch by batch, nothing kept;
4. ``probekit extract`` with the default pools, then with full tokens (``--pool ...,none``),
   ``--device`` and ``--precision`` as given: seconds per clip and the ratio to the bare forward;
5. ``probekit probe --readouts attentive --device ...`` on the last layer's tokens with a
   learning-rate x weight-decay grid trained in one pass over the data (``fit_grid``) and chosen
   on the inner split, seconds in total.

Usage::

    python benchmarks/gpu_check.py [--device cuda] [--precision bf16] [--clips 16] [--json out.json]
    python benchmarks/gpu_check.py --tiny          # CPU, tiny model: checks the script itself

Prints one JSON object (also written to ``--json``). Figures are quoted only where measured on
a GPU machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ATTENTIVE_GRID = {"lr": [3e-4, 1e-3, 3e-3], "weight_decay": [0.01, 0.1]}


def _model_folder(folder: Path, tiny: bool) -> Path:
    import torch
    from transformers import VJEPA2Config, VJEPA2Model, VJEPA2VideoProcessor

    torch.manual_seed(0)
    if tiny:
        config = VJEPA2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, crop_size=64, frames_per_clip=8,
                              pred_hidden_size=32, pred_num_hidden_layers=1, pred_num_attention_heads=2, mlp_ratio=2)
    else:
        config = VJEPA2Config()  # the ViT-L sizes (vjepa2-vitl-fpc64-256)
    model = VJEPA2Model(config)
    model.save_pretrained(folder)
    VJEPA2VideoProcessor(crop_size=config.crop_size).save_pretrained(folder)
    return folder


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _bare_forward(encoder, video, batch_size: int) -> float:
    """Processor, copy and forward with hidden states, batch by batch; seconds."""
    import torch

    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(video), batch_size):
            pixels = encoder.to_device(encoder.pixel_values(video[i : i + batch_size]))
            with encoder.autocast():
                out = encoder.model(pixels, output_hidden_states=True, skip_predictor=True)
            _ = [h.float().cpu() for h in out.hidden_states]  # the extraction moves every layer back too
    _sync(encoder.device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="Tiny model and world on the CPU (checks the script).")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda or mps (default: cpu with --tiny, else cuda).")
    parser.add_argument("--precision", default="bf16", choices=["auto", "bf16", "fp16", "fp32"])
    parser.add_argument("--clips", type=int, default=None, help="Clips (default 16; 6 with --tiny).")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here.")
    args = parser.parse_args()

    from probekit import __version__
    from probekit.devices import pick_device
    from probekit.encoders import create_encoder
    from probekit.evaluation import run_probe
    from probekit.extraction import ExtractConfig, run_extract
    from probekit.formats.world import WorldFile
    from probekit.worlds.generator import generate_world

    device = pick_device(args.device or ("cpu" if args.tiny else "cuda"))
    clips = args.clips or (6 if args.tiny else 16)
    frames, size = (8, 64) if args.tiny else (16, 256)
    results: dict = {"probekit": __version__, "device": str(device), "precision": args.precision, "clips": clips,
                     "frames": frames, "size": size, "tiny": bool(args.tiny)}
    if device.type == "cuda":
        import torch

        results["gpu"] = torch.cuda.get_device_name(device)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        world = generate_world(tmp / "world.h5", clips=clips, seed=0, frames=frames, size=size, scenarios="drop,collide,roll",
                               workers=min(args.workers, clips), progress=False)
        results["generate_s"] = round(time.perf_counter() - start, 2)
        folder = _model_folder(tmp / "model", args.tiny)

        encoder = create_encoder(f"hf:{folder}", init="pretrained")
        encoder.precision = args.precision
        encoder.to(device)
        results["parameters_M"] = round(sum(p.numel() for p in encoder.model.parameters()) / 1e6, 1)
        with WorldFile(world) as handle:
            video = handle.read("video/rgb")[:, :frames]
        _bare_forward(encoder, video[: args.batch_size], args.batch_size)  # warm-up (kernels, allocator)
        bare = _bare_forward(encoder, video, args.batch_size)
        results["bare_forward_s_per_clip"] = round(bare / clips, 4)

        for name, pool in (("default_pools", "mean,time,object"), ("full_tokens", "mean,time,object,none")):
            out = tmp / f"{name}.h5"
            config = ExtractConfig(data=str(world), out=str(out), encoder=f"hf:{folder}", pool=pool, batch_size=args.batch_size,
                                   device=str(device.type), precision=args.precision, progress=False)
            _sync(device)
            start = time.perf_counter()
            run_extract(config, encoder=encoder)
            _sync(device)
            elapsed = time.perf_counter() - start
            results[f"extract_{name}_s_per_clip"] = round(elapsed / clips, 4)
            results[f"extract_{name}_ratio_to_bare"] = round(elapsed / bare, 3)
            results[f"extract_{name}_MB_per_clip"] = round(out.stat().st_size / clips / 1e6, 2)

        suite = tmp / "attentive.toml"
        grid = "\n".join(f"{key} = {json.dumps(values)}" for key, values in ATTENTIVE_GRID.items())
        suite.write_text(f"""
[suite]
name = "gpu-check"
readouts = ["attentive"]
targets = ["position_camera"]
controls = []
folds = {2 if args.tiny else 3}
seed = 0
n_boot = 100
[suite.layers]
attentive = "last"
[readouts.attentive]
width = {16 if args.tiny else 64}
max_epochs = {2 if args.tiny else 20}
{grid}
""")
        start = time.perf_counter()
        table = run_probe([tmp / "full_tokens.h5"], tmp / "run", suite=str(suite), device=str(device.type))
        results["attentive_grid"] = f"{len(ATTENTIVE_GRID['lr'])} lr x {len(ATTENTIVE_GRID['weight_decay'])} weight decay"
        results["attentive_grid_s"] = round(time.perf_counter() - start, 2)
        r2 = table[(table.metric == "r2") & (table.scenario == "all") & (table.control == "none")]
        results["attentive_r2"] = [round(float(v), 3) for v in r2.score]
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
