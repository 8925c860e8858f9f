"""Overhead of the predictor surprise (``probekit extract --surprise``) over a bare loop of the same model calls.

Both sides read the same clips in the same batches, run the model's processor, cut the same
8-frame windows and make the same calls (the encoder on each whole window, the encoder on each
context prefix, the predictor per context length, the L1 distance). The bare loop keeps nothing
else; :class:`probekit.extraction.surprise.WindowSurprise` adds hashing of every window and its
cache. The clips are originals only (no twins), so the cache saves nothing and the ratio is the
pure overhead. Goal: ratio <= 1.10.

Usage::

    python benchmarks/bench_surprise.py [--world worlds.h5] [--clips 32] [--batch-size 8] [--threads 1] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's probekit

import numpy as np
import torch


def bare_loop(videos: list[np.ndarray], encoder, windows) -> float:
    """Wall seconds for the model calls alone."""
    from probekit.extraction.surprise import predictor_surprise

    start = time.perf_counter()
    for video in videos:
        pixels = encoder.pixel_values(video)
        starts = windows.starts(video.shape[1])
        batch = torch.cat([pixels[:, s:s + windows.window] for s in starts])
        predictor_surprise(encoder.model, batch, windows.contexts)
    return time.perf_counter() - start


def probekit_loop(videos: list[np.ndarray], encoder, windows) -> float:
    """Wall seconds for :class:`WindowSurprise` (fresh cache) over the same batches."""
    from probekit.extraction.surprise import WindowSurprise

    surprise = WindowSurprise(encoder, windows)
    start = time.perf_counter()
    for video in videos:
        surprise(video)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, default=None, help="World file (default: generate originals only)")
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from probekit.data.worlds import WorldFile
    from probekit.encoders import create_encoder
    from probekit.extraction.surprise import SurpriseWindows

    world = args.world
    if world is None:
        from probekit.worlds import generate_world

        world = generate_world(Path(tempfile.mkdtemp()) / "bench.h5", clips=args.clips, seed=0, frames=16, size=64,
                               workers=1, progress=False)
    with WorldFile(world) as w:
        kinds = w.clips()["kind"].to_numpy()
        originals = np.flatnonzero(kinds == "original")[: args.clips]
        video = w.read("video/rgb")[originals]
    videos = [video[a:a + args.batch_size] for a in range(0, len(video), args.batch_size)]
    encoder = create_encoder("tiny-vjepa2")
    windows = SurpriseWindows()
    bare_loop(videos[:1], encoder, windows)  # warm-up
    bare, ours = [], []
    for _ in range(args.repeats):  # interleaved, best of each
        bare.append(bare_loop(videos, encoder, windows))
        ours.append(probekit_loop(videos, encoder, windows))
    result = {"clips": len(video), "windows_per_clip": len(windows.starts(video.shape[1])), "contexts": list(windows.contexts),
              "threads": args.threads, "bare_s": min(bare), "probekit_s": min(ours), "ratio": min(ours) / min(bare)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
