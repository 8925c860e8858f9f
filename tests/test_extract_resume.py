"""kill -9 at random moments, then --resume: the finished store equals an uninterrupted run's."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from _worlds import generated_world

from probekit.errors import FileFormatError
import torch

from probekit.extraction import ExtractConfig, parts_dir_for, run_extract
from probekit.store import Store

REPO = Path(__file__).resolve().parents[1]
ARGS = ["--encoder", "tiny-vjepa2", "--init", "random", "--batch-size", "1", "--threads", "1", "--no-progress",
        "--pool", "mean,time,object,none", "--layers", "0,3,-1"]


def _env():
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    return env


def _start(world, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "probekit", "extract", "--data", str(world), "--out", str(out), *ARGS, *extra],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _datasets(path):
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: found.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
        attrs = {k: f.attrs[k] for k in f.attrs}
    return found, attrs


def test_kill9_then_resume_is_bitwise_equal(tmp_path, run_cli):
    world = generated_world(20, seed=3)  # long enough that at least two kills land
    reference = tmp_path / "reference.h5"
    threads = torch.get_num_threads()
    try:  # the uninterrupted run, in this process with the same options (one thread)
        run_extract(ExtractConfig(data=str(world), out=str(reference), encoder="tiny-vjepa2", init="random", batch_size=1,
                                  threads=1, progress=False, pool="mean,time,object,none", layers="0,3,-1"))
    finally:
        torch.set_num_threads(threads)

    out = tmp_path / "store.h5"
    parts = parts_dir_for(out)
    rng = random.Random(11)
    kills = 0
    proc = _start(world, out)
    for attempt in range(3):
        # a random moment: after a random number of committed units plus a random delay
        target = rng.randint(0, 5)
        deadline = time.time() + 60
        while proc.poll() is None and time.time() < deadline:
            if parts.exists() and len(list(parts.glob("unit-*.h5"))) >= target:
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.3))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        # every committed unit is readable; the store at --out is refused with a --resume hint
        for unit in parts.glob("unit-*.h5"):
            with h5py.File(unit, "r") as f:
                assert int(f.attrs["stop"]) > int(f.attrs["start"])
        if out.exists():
            with h5py.File(out, "r") as f:
                complete = bool(f.attrs["complete"])
            if complete:  # killed after the final rename: a complete, readable store
                Store(out).close()
            else:
                with pytest.raises(FileFormatError, match="--resume"):
                    Store(out)
        proc = _start(world, out, "--resume")
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert kills >= 2
    assert not parts.exists()

    got, got_attrs = _datasets(out)
    want, want_attrs = _datasets(reference)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].dtype == want[name].dtype
        if want[name].dtype.kind == "O":  # strings
            assert got[name].tolist() == want[name].tolist(), name
        else:
            assert got[name].tobytes() == want[name].tobytes(), name
    for key in set(want_attrs) - {"source_path"}:
        assert np.array_equal(np.asarray(got_attrs[key]), np.asarray(want_attrs[key])), key


def test_resume_with_other_options_is_refused(tmp_path, run_cli):
    world = generated_world(4, seed=0)
    out = tmp_path / "store.h5"
    proc = _start(world, out)
    parts = parts_dir_for(out)
    deadline = time.time() + 60
    while proc.poll() is None and time.time() < deadline and not list(parts.glob("unit-*.h5")):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = sorted(p.name for p in parts.glob("unit-*.h5"))
    result = run_cli("extract", "--data", world, "--out", out, *ARGS[:-2], "--layers", "all", "--resume")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "differ" in result.stderr and "layers" in result.stderr
    assert sorted(p.name for p in parts.glob("unit-*.h5")) == before  # nothing lost
    result = run_cli("extract", "--data", world, "--out", out, *ARGS)
    assert result.returncode == 2 and "--resume" in result.stderr
