"""Streaming: peak memory stays far below the size of the latents written.

The run writes about 1.3 GB of latents (over twice the process's baseline RSS, which is
dominated by torch) from a tiny world file; the peak RSS must stay within half the latents'
size above the baseline, which a writer holding the latents in memory could not do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from probekit.h5io import atomic_h5, string_array

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r'''
import json, sys
import psutil, torch
torch.set_num_threads(1)
from probekit.encoders import ModuleEncoder
from probekit.extraction import ExtractConfig, run_extract

class Wide(torch.nn.Module):
    """Patchify 16 px frames into 2 px patches (12 values), then one wide projection and cheap maps."""
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(12, 1024)
        self.act1, self.act2, self.act3 = torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.Sigmoid()
    def forward(self, x):
        b = x.shape[0]
        x = x.reshape(b, 3, 8, 2, 8, 2).permute(0, 2, 4, 3, 5, 1).reshape(b, 64, 12)
        return self.act3(self.act2(self.act1(self.proj(x))))

encoder = ModuleEncoder(Wide(), ["proj", "act1", "act2", "act3"], kind="image", input_size=16, patch=2, name="wide")
config = ExtractConfig(data=sys.argv[1], out=sys.argv[2], pool="none", dtype="float32", batch_size=2, progress=False)
baseline = psutil.Process().memory_info().rss
run_extract(config, encoder=encoder)
# VmHWM: the peak RSS of this process image. (ru_maxrss would carry over the RSS of the forked
# parent, here the test process, across exec.)
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"baseline": baseline, "peak": peak}))
'''


def test_memory_is_bounded_while_latents_exceed_twice_the_baseline(tmp_path):
    n_clips, n_frames = 80, 16
    world = tmp_path / "world.h5"
    rng = np.random.default_rng(0)
    with atomic_h5(world, "world", {"n_clips": n_clips}) as f:
        f.create_dataset("video/rgb", data=rng.integers(0, 255, (n_clips, n_frames, 16, 16, 3), dtype=np.uint8))
        for name in ("clip_id", "family_id", "scenario", "kind"):
            f.create_dataset(f"clips/{name}", data=string_array([f"{name}{i}" for i in range(n_clips)]))
    out = tmp_path / "store.h5"
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(world), str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    usage = json.loads(result.stdout.strip().splitlines()[-1])
    latents = n_clips * 4 * n_frames * 64 * 1024 * 4  # clips x layers x tokens x width x float32
    assert out.stat().st_size >= latents
    assert latents >= 2 * usage["baseline"], usage
    assert usage["peak"] - usage["baseline"] < latents / 2, usage
    print(usage, latents)
