"""torchrun --nproc_per_node=2 (gloo): each rank writes its shard, rank 0 merges them (virtual datasets)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
from _worlds import generated_world

from probekit.extraction import ExtractConfig, run_extract, shard_path
from probekit.store import Store

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_then_merge_equal_single_process(tmp_path, run_cli):
    world = generated_world(5, seed=4)
    out = tmp_path / "merged.h5"
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
         "-m", "probekit", "extract", "--data", str(world), "--out", str(out), "--encoder", "tiny-vjepa2", "--init", "random",
         "--batch-size", "2", "--threads", "1", "--no-progress", "--layers", "0,-1"],
        env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    shards = [shard_path(out, r, 2) for r in range(2)]
    with h5py.File(out, "r") as f:
        assert f["layers/6/time"].is_virtual
        assert [s for s, *_ in [(v.file_name,) for v in f["layers/6/time"].virtual_sources()]] == [p.name for p in shards]
    single = tmp_path / "single.h5"
    run_extract(ExtractConfig(data=str(world), out=str(single), encoder="tiny-vjepa2", init="random", batch_size=2,
                              progress=False, layers="0,-1"))
    with Store(out) as merged, Store(single) as ref, Store(shards[0]) as s0, Store(shards[1]) as s1:
        assert merged.n_clips == 5 and (s0.n_clips, s1.n_clips) == (3, 2)
        assert merged.clips().equals(ref.clips())
        for layer in (0, 6):
            for kind in ("mean", "time", "object"):
                got = merged.features(layer, kind)
                np.testing.assert_array_equal(got, np.concatenate([s0.features(layer, kind), s1.features(layer, kind)]))
                np.testing.assert_allclose(got.astype(np.float32), ref.features(layer, kind).astype(np.float32), atol=2e-3, rtol=2e-3)
        for name in ref.label_names:
            np.testing.assert_array_equal(merged.labels(name), ref.labels(name))

    # the merge command on its own, from another working directory: same store; foreign shards refused
    again = tmp_path / "again.h5"
    result = run_cli("merge", *shards, "--out", again, cwd="/")
    assert result.returncode == 0, result.stderr
    with Store(again) as a, Store(out) as b:
        np.testing.assert_array_equal(a.features(6, "time"), b.features(6, "time"))
    result = run_cli("merge", shards[0], single, "--out", tmp_path / "bad.h5")
    assert result.returncode == 2 and result.stderr.startswith("error: merge:") and result.stderr.count("\n") == 1
    assert not (tmp_path / "bad.h5").exists()
