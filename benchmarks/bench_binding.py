"""Cost of the slot-binding stage against the probes of the same run, on the demo's stores.

Generates the demo's worlds (24 families with every twin), extracts tiny-vjepa2, its random twin
and pixels with the demo's pools (full tokens included), then times the probe stage alone (the
demo's quick suite, linear and object readouts) and the binding stage alone on the same inputs.
Goal (issue "slot binding"): the binding stage adds at most 50% to the probe run's time.

Usage::

    python benchmarks/bench_binding.py [--out /tmp/bench_binding] [--clips 24] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's probekit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_binding"))
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    from probekit.demo import DEMO_POOL, DEMO_TARGETS
    from probekit.evaluation import run_probe
    from probekit.evaluation.inputs import open_inputs
    from probekit.evaluation.run import run_stages
    from probekit.evaluation.suite import load_suite
    from probekit.extraction.run import ExtractConfig, run_extract
    from probekit.worlds import VIOLATIONS, generate_world

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    world = out / "worlds.h5"
    if not world.exists():
        generate_world(world, clips=args.clips, seed=0, frames=16, size=64, violations=",".join(VIOLATIONS), counterfactuals=True,
                       near_miss=True, progress=False)
    stores = []
    for name, encoder, init, dtype in (("tiny", "tiny-vjepa2", "pretrained", "float16"), ("twin", "tiny-vjepa2", "random", "float16"),
                                       ("pixels", "pixels", "pretrained", "float32")):
        path = out / f"{name}.h5"
        if not path.exists():
            run_extract(ExtractConfig(data=str(world), out=str(path), encoder=encoder, init=init, layers="all", pool=DEMO_POOL,
                                      dtype=dtype, batch_size=8, device="cpu", threads=args.threads, progress=False))
        stores.append(path)

    run_dir = out / "run"
    start = time.perf_counter()
    run_probe(stores, run_dir, suite="quick", targets=list(DEMO_TARGETS), readouts=["linear", "object"], folds=5, n_boot=200,
              threads=args.threads, stages=["probe"], overwrite=True)
    probe_seconds = time.perf_counter() - start

    suite = load_suite("quick")
    suite.stages = ["probe", "binding"]
    inputs = open_inputs(stores)
    start = time.perf_counter()
    run_stages(suite, inputs, run_dir, None, None)
    binding_seconds = time.perf_counter() - start
    for item in inputs:
        item.store.close()
    print(json.dumps({"probe_s": round(probe_seconds, 1), "binding_s": round(binding_seconds, 1),
                      "binding_over_probe": round(binding_seconds / probe_seconds, 3), "goal": "<= 0.5"}, indent=1))


if __name__ == "__main__":
    main()
