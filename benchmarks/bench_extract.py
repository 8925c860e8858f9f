"""Overhead of ``probekit extract`` over a bare loop that runs the same model and keeps nothing.

Both sides read the same clips from the same world file in the same batches, run the model's
processor and forward pass with every hidden state; the bare loop then drops the outputs, while
``probekit extract`` pools, aligns labels, commits units and assembles the store. Goal: ratio
<= 1.10 with all layers written. Also reports the write throughput (MB of store per second).

Usage::

    python benchmarks/bench_extract.py [--clips 128] [--batch-size 8] [--threads 1] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's probekit

import numpy as np
import torch


def bare_loop(world: Path, encoder, batch_size: int, n_clips: int) -> tuple[float, float]:
    """(wall, CPU) seconds to read, preprocess and run the model on every batch, keeping nothing."""
    from probekit.data.worlds import WorldFile

    start, cpu = time.perf_counter(), time.process_time()
    with WorldFile(world) as w:
        for a in range(0, n_clips, batch_size):
            video = w.read("video/rgb", slice(a, min(a + batch_size, n_clips)))
            pixels = encoder.pixel_values(video)
            with torch.no_grad():
                out = encoder.model(pixels, output_hidden_states=True, skip_predictor=True)
            del out
    return time.perf_counter() - start, time.process_time() - cpu


def extract_once(world: Path, out: Path, encoder, batch_size: int, pool: str) -> tuple[float, float]:
    """(wall, CPU) seconds for one complete ``run_extract`` (all layers) into ``out``, with the already built encoder."""
    from probekit.extraction import ExtractConfig, run_extract

    start, cpu = time.perf_counter(), time.process_time()
    run_extract(ExtractConfig(data=str(world), out=str(out), layers="all", pool=pool, batch_size=batch_size,
                              progress=False, overwrite=True), encoder=encoder)
    return time.perf_counter() - start, time.process_time() - cpu


def writer_throughput(out: Path, n_clips: int, batch_size: int, layers: int = 7) -> dict:
    """MB/s of the crash-safe writer alone: tiny-vjepa2-sized token grids (8x8x8x128, float16) per layer."""
    from probekit.extraction.writer import UnitWriter

    rng = np.random.default_rng(0)
    block = rng.standard_normal((batch_size, 8, 8, 8, 128)).astype(np.float16)
    writer = UnitWriter(out, {"bench": True}, overwrite=True)
    writer.open({})
    start = time.perf_counter()
    writer.start_assembly(n_clips, attrs={}, clip_strings={"clip_id": [str(i) for i in range(n_clips)]}, static={})
    units = []
    for unit, a in enumerate(range(0, n_clips, batch_size)):
        b = min(a + batch_size, n_clips)
        writer.commit(unit, a, b, {f"layers/{i}/tokens": block[: b - a] for i in range(layers)}, {})
        units.append(unit)
    writer.finish(units)
    seconds = time.perf_counter() - start
    size = out.stat().st_size
    return {"store_MB": round(size / 1e6, 1), "seconds": round(seconds, 3), "MB_per_s": round(size / 1e6 / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=128, help="families to generate (one clip each)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--encoder", default="tiny-vjepa2")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", type=Path, default=None, help="use this world file instead of generating one")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from probekit.encoders import create_encoder
    from probekit.worlds import generate_world

    folder = Path(tempfile.mkdtemp(prefix="bench-extract-"))
    try:
        world = args.data or generate_world(folder / "world.h5", clips=args.clips, seed=0, frames=16, size=64, progress=False)
        from probekit.data.worlds import WorldFile

        with WorldFile(world) as w:
            n_clips = w.n_clips
        encoder = create_encoder(args.encoder, init="random")
        bare_loop(world, encoder, args.batch_size, min(n_clips, args.batch_size))  # warm-up
        results = {"encoder": args.encoder, "clips": n_clips, "batch_size": args.batch_size, "threads": args.threads,
                   "layers": encoder.n_layers, "torch": torch.__version__}
        for label, pool in (("default pools (mean,time,object)", "mean,time,object"), ("plus full tokens", "mean,time,object,none")):
            bare, full = [], []
            for _ in range(args.repeats):  # interleaved, best of n: robust to other load on the machine
                bare.append(bare_loop(world, encoder, args.batch_size, n_clips))
                full.append(extract_once(world, folder / "store.h5", encoder, args.batch_size, pool))
            size = (folder / "store.h5").stat().st_size
            b, e = min(w for w, _ in bare), min(w for w, _ in full)
            bc, ec = min(c for _, c in bare), min(c for _, c in full)
            results[label] = {
                "pool": pool, "bare_wall_s": round(b, 3), "extract_wall_s": round(e, 3), "ratio_wall": round(e / b, 3),
                "bare_cpu_s": round(bc, 3), "extract_cpu_s": round(ec, 3), "ratio_cpu": round(ec / bc, 3),
                "clips_per_s": round(n_clips / e, 2), "store_MB": round(size / 1e6, 2),
                "write_MB_per_s_overall": round(size / 1e6 / e, 2),
                "runs_wall_s": {"bare": [round(w, 2) for w, _ in bare], "extract": [round(w, 2) for w, _ in full]},
            }
            print(f"{label}: wall bare {b:.2f} s / extract {e:.2f} s = {e / b:.3f}; CPU bare {bc:.2f} s / extract {ec:.2f} s "
                  f"= {ec / bc:.3f}; {n_clips / e:.1f} clips/s; store {size / 1e6:.1f} MB ({size / 1e6 / e:.1f} MB/s overall)",
                  flush=True)
        results["writer only"] = writer_throughput(folder / "writer.h5", n_clips, args.batch_size)
        print(f"writer only: {results['writer only']['MB_per_s']} MB/s ({results['writer only']['store_MB']} MB of "
              f"float16 token grids, units fsynced, then assembled)", flush=True)
        print(json.dumps(results, indent=1))
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
