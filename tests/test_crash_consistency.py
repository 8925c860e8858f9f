"""Crash consistency: a crash at every write boundary of generate, extract and probe leaves nothing
that looks complete, and a re-run (or ``--resume``) gives what an uninterrupted run gives.

The boundaries are found with a counting dry run of the write hook of
:mod:`probekit.formats.atomic`; then each run is crashed (an exception raised by the hook) at each
boundary in turn.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from probekit.errors import FileFormatError
from probekit.formats.atomic import set_write_hook


class Crash(Exception):
    """Raised by the hook at the chosen boundary."""


def count_boundaries(run) -> list[Path]:
    seen: list[Path] = []
    previous = set_write_hook(seen.append)
    try:
        run()
    finally:
        set_write_hook(previous)
    return seen


def crash_at(boundary: int, run) -> None:
    count = 0

    def hook(path: Path) -> None:
        nonlocal count
        count += 1
        if count == boundary:
            raise Crash(str(path))

    previous = set_write_hook(hook)
    try:
        with pytest.raises(Crash):
            run()
    finally:
        set_write_hook(previous)


def h5_datasets(path: Path) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return found


def assert_same_datasets(a: Path, b: Path) -> None:
    left, right = h5_datasets(a), h5_datasets(b)
    assert left.keys() == right.keys()
    for name in left:
        assert np.array_equal(left[name], right[name], equal_nan=left[name].dtype.kind == "f"), name


def test_generate_crash_at_every_boundary(tmp_path):
    from probekit.data.worlds import WorldFile
    from probekit.worlds import generate_world

    def run(out: Path):
        return lambda: generate_world(out, clips=2, seed=4, frames=4, size=16, scenarios="drop", progress=False)

    reference = tmp_path / "reference.h5"
    boundaries = count_boundaries(run(reference))
    assert boundaries, "generate wrote without passing a write boundary"
    for k in range(1, len(boundaries) + 1):
        out = tmp_path / f"crash{k}.h5"
        crash_at(k, run(out))
        if out.exists():  # whatever is there must not read as a complete world file
            with pytest.raises(FileFormatError):
                WorldFile(out)
            out.unlink()
        run(out)()
        assert_same_datasets(out, reference)
        assert not list(tmp_path.glob(f".crash{k}*"))  # no temporary left behind


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    from probekit.worlds import generate_world

    return generate_world(tmp_path_factory.mktemp("crash-world") / "w.h5", clips=3, seed=5, frames=4, size=16,
                          scenarios="drop", progress=False)


def test_extract_crash_at_every_boundary_then_resume(tiny_world, tmp_path):
    from probekit.extraction.run import ExtractConfig, run_extract
    from probekit.extraction.writer import parts_dir_for
    from probekit.store import Store

    def run(out: Path, resume: bool = False):
        config = ExtractConfig(data=str(tiny_world), out=str(out), encoder="pixels", dtype="float32", batch_size=1,
                               device="cpu", progress=False, resume=resume)
        return lambda: run_extract(config)

    reference = tmp_path / "reference.h5"
    boundaries = count_boundaries(run(reference))
    assert len(boundaries) >= 4  # run signature, skeleton, one per unit (3), the store
    for k in range(1, len(boundaries) + 1):
        out = tmp_path / f"crash{k}.h5"
        crash_at(k, run(out))
        if out.exists():
            with pytest.raises(FileFormatError, match="incomplete|--resume"):
                Store(out)
        resumable = out.exists() or parts_dir_for(out).exists()
        run(out, resume=resumable)()
        assert_same_datasets(out, reference)
        assert not parts_dir_for(out).exists()


def test_probe_crash_at_every_boundary_then_rerun(tiny_world, tmp_path):
    from probekit.evaluation import run_probe
    from probekit.extraction.run import ExtractConfig, run_extract
    from probekit.rundir import load_run

    store = tmp_path / "store.h5"
    run_extract(ExtractConfig(data=str(tiny_world), out=str(store), encoder="pixels", dtype="float32", device="cpu",
                              progress=False))
    suite = tmp_path / "suite.toml"
    suite.write_text('[suite]\ntargets = ["speed"]\nreadouts = ["linear"]\ncontrols = []\nfolds = 2\nn_boot = 5\n')

    def run(out: Path):
        return lambda: run_probe([store], out, suite=str(suite), folds=2, n_boot=5)

    reference = tmp_path / "reference"
    boundaries = count_boundaries(run(reference))
    assert len(boundaries) >= 3
    expected = load_run(reference).results
    for k in range(1, len(boundaries) + 1):
        out = tmp_path / f"crash{k}"
        crash_at(k, run(out))
        with pytest.raises(FileFormatError):  # an interrupted run never reads as complete
            load_run(out)
        run(out)()
        pd.testing.assert_frame_equal(load_run(out).results, expected)
        shutil.rmtree(out)
