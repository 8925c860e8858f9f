"""Overhead of ``probekit attribute`` per clip over captum called directly on the same model and input.

Both sides explain the same clips with the same probe (tiny-vjepa2, a fitted-shape linear probe at one
layer and token step) and the same captum method; captum alone gets the preprocessed input and baseline
ready-made, while probekit's path reads the clip from the world file, runs the processor for input and
baseline, builds the explained model, calls captum, brings the map back to frame pixels and scores it
against the masks. Goal: ratio <= 1.10 (wrapping overhead <= 10%). The randomisation test is off on
both sides (it is extra captum calls, not overhead).

Usage::

    python benchmarks/bench_attribute.py [--clips 4] [--method ig] [--n-steps 32] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's probekit

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--method", default="ig", choices=["ig", "saliency", "smoothgrad", "occlusion"])
    parser.add_argument("--n-steps", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--layer", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from probekit.attribution.methods import MethodOptions, get_method
    from probekit.attribution.model import LinearProbe, ProbedEncoder, encoder_input
    from probekit.attribution.probes import FoldProbes
    from probekit.attribution.run import AttributeConfig, _explain_clip
    from probekit.encoders import create_encoder
    from probekit.sources import WorldSource
    from probekit.worlds import generate_world

    with tempfile.TemporaryDirectory() as tmp:
        world = generate_world(Path(tmp) / "w.h5", clips=args.clips, seed=0, frames=16, size=64, overwrite=True, progress=False)
        encoder = create_encoder("tiny-vjepa2")
        for module in encoder.modules():
            module.eval().requires_grad_(False)
        source = WorldSource(world)
        layout = encoder.layout(16, 64, 64)
        geometry = encoder.geometry(64, 64)
        width = encoder.config["hidden_size"]
        probe = LinearProbe(np.random.default_rng(0).standard_normal((1, width)) / np.sqrt(width), np.zeros(1), "time")
        step = 3
        probes = FoldProbes([probe], np.zeros(args.clips, dtype=int), np.arange(args.clips), np.full(args.clips, step),
                            np.zeros((args.clips, 1)), binary=True)
        config = AttributeConfig(run=Path(tmp), data=world, n_steps=args.n_steps, sanity_clips=0)
        options = MethodOptions(n_steps=args.n_steps)
        function = get_method(args.method)
        kwargs = {"tubelet": 2, "patch": 8} if args.method == "occlusion" else {}

        # captum alone: inputs prepared outside the timed region
        inputs = []
        for clip in range(args.clips):
            video = source.read(clip, clip + 1).video
            inputs.append((encoder_input(encoder, video), encoder_input(encoder, np.zeros_like(video))))
        model = ProbedEncoder(encoder, args.layer, probe, step, layout)
        function(model, inputs[0][0].clone().requires_grad_(True), inputs[0][1], options, None, **kwargs)  # warm-up
        start = time.perf_counter()
        for x, baseline in inputs:
            function(model, x.clone().requires_grad_(True), baseline, options, None, **kwargs)
        bare = time.perf_counter() - start

        start = time.perf_counter()
        for clip in range(args.clips):
            _explain_clip(encoder, geometry, layout, source, probes, clip, step, 0, args.layer, args.method,
                          config, options, None, sanity=False)
        wrapped = time.perf_counter() - start
        source.close()
    print(f"attribute {args.method}, tiny-vjepa2 layer {args.layer}, {args.clips} clips of 16 x 64 x 64, "
          f"{args.threads} thread(s): captum alone {bare / args.clips:.3f} s/clip, probekit {wrapped / args.clips:.3f} s/clip, "
          f"ratio {wrapped / bare:.3f} (goal <= 1.10)")


if __name__ == "__main__":
    main()
