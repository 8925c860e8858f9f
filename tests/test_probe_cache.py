"""The probe cache: one file per (store, layer), reused by re-runs, robust to damaged files and
still reading the per-fold files of earlier versions."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from probekit.evaluation import run_probe
from probekit.evaluation import units
from probekit.evaluation.cache import ProbeCache, ProbeKey
from probekit.testing import write_planted_store

SUITE = """[suite]
name = "cache"
targets = ["position_camera", "contact"]
readouts = ["linear"]
controls = ["control_task", "ceiling"]
folds = 3
seed = 0
n_boot = 20
"""

FITS = ("fit_ridge_group", "fit_logistic", "fit_estimator")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """A small planted store (layers 0 and 1), its suite, and a finished run over them."""
    tmp = tmp_path_factory.mktemp("cache")
    store = write_planted_store(tmp / "tiny.h5", forms=("noise", "linear"), dim=6, n_clips=30, n_steps=3, seed=5)
    suite = tmp / "cache.toml"
    suite.write_text(SUITE)
    table = run_probe([store], tmp / "run", suite=suite)
    return store, suite, tmp / "run", table


@pytest.fixture
def run_copy(first_run, tmp_path):
    """A copy of the finished run without its results table (as an interrupted run leaves it)."""
    store, suite, run, table = first_run
    out = tmp_path / "run"
    shutil.copytree(run, out)
    (out / "results.parquet").unlink()
    return store, suite, out, table


@pytest.fixture
def fit_calls(monkeypatch):
    """Count the fits of the sweep's units (one call fits every outer fold of one or more jobs)."""
    calls: list[str] = []
    for name in FITS:
        original = getattr(units, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(units, name, counted)
    return calls


def _stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())}


def _entries(path: Path) -> set[str]:
    with np.load(path, allow_pickle=False) as data:
        return {name.rpartition("/")[0] for name in data.files}


def test_one_file_per_store_and_layer(first_run):
    _, _, run, _ = first_run
    files = sorted(p.name for p in (run / "probes").iterdir())
    # layers 0 and 1 of the store, and layer -1 of the label-only ceiling (keyed by the time grid)
    assert len(files) == 3 and all(name.endswith(".npz") for name in files)
    assert sum(name.endswith("_L0.npz") for name in files) == sum(name.endswith("_L1.npz") for name in files) == 1
    assert sum(name.endswith("_L-1.npz") for name in files) == 1
    for path in (run / "probes").iterdir():
        entries = _entries(path)
        assert entries and all(entry.count("/") == 5 for entry in entries)
        assert {entry.split("/")[4] for entry in entries} == {"f0", "f1", "f2"}


def test_rerun_reuses_the_cache_without_fitting(run_copy, fit_calls):
    store, suite, out, table = run_copy
    before = _stamps(out / "probes")
    again = run_probe([store], out, suite=suite)
    assert fit_calls == []
    assert _stamps(out / "probes") == before
    pd.testing.assert_frame_equal(again, table, check_exact=True)


def test_a_damaged_cache_file_is_refitted(run_copy, fit_calls):
    store, suite, out, table = run_copy
    damaged = next((out / "probes").glob("*_L1.npz"))
    entries = _entries(damaged)
    others = {name: stamp for name, stamp in _stamps(out / "probes").items() if name != damaged.name}
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])  # truncated mid-file
    again = run_probe([store], out, suite=suite)
    assert fit_calls  # the damaged layer was fitted again ...
    assert _entries(damaged) == entries  # ... and its file is whole again
    assert {name: stamp for name, stamp in _stamps(out / "probes").items() if name != damaged.name} == others
    pd.testing.assert_frame_equal(again, table, check_exact=True)


def test_a_run_of_the_per_fold_layout_still_resumes(run_copy, fit_calls):
    """Run directories of earlier versions (one ``.npz`` per fold) are reused as they are."""
    store, suite, out, table = run_copy
    for path in list((out / "probes").glob("*.npz")):
        _split_per_fold(path)
    legacy = _stamps(out / "probes")
    again = run_probe([store], out, suite=suite)
    assert fit_calls == []
    assert _stamps(out / "probes") == legacy  # read, not rewritten
    pd.testing.assert_frame_equal(again, table, check_exact=True)


def _split_per_fold(path: Path) -> None:
    """Rewrite one (store, layer) file as the per-fold files earlier versions wrote, then remove it."""
    prefix, _, layer = path.stem.rpartition("_L")
    fields: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path, allow_pickle=False) as data:
        for name in data.files:
            entry, _, field = name.rpartition("/")
            fields.setdefault(entry, {})[field] = data[name]
    for entry, arrays in fields.items():
        target, slot, readout, control, fold, config = entry.split("/")
        key = ProbeKey(prefix, int(layer), target, int(slot[1:]), readout, control, int(fold[1:]), config)
        with open(path.parent / key.legacy_name, "wb") as handle:
            np.savez(handle, **arrays)
    path.unlink()


def _record(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"test": np.arange(seed, seed + 4), "pred": rng.normal(size=4), "inner": 0.25 * seed, "score": rng.normal(size=4),
            "weights": {"coef": rng.normal(size=(3, 1)), "net__0__weight": rng.normal(size=(2, 3))}}


def test_cache_round_trip_and_one_rewrite_per_file(tmp_path):
    cache = ProbeCache(tmp_path, memo_files=1)
    keys = [ProbeKey("f" * 64, layer, "velocity", 0, readout, "none", fold, "cfg")
            for layer in (0, 1) for readout in ("linear", "mlp") for fold in range(2)]
    first = {key: _record(i) for i, key in enumerate(keys) if key.readout == "linear"}
    assert sorted(p.name for p in cache.save(first)) == ["ffffffffffff_L0.npz", "ffffffffffff_L1.npz"]
    second = {key: _record(i) for i, key in enumerate(keys) if key.readout == "mlp"}
    cache.save(second)  # added to the files the first save wrote
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ffffffffffff_L0.npz", "ffffffffffff_L1.npz"]
    for reader in (cache, ProbeCache(tmp_path)):
        for i, key in enumerate(keys):
            loaded, expected = reader.load(key), _record(i)
            assert loaded["inner"] == expected["inner"] and loaded["weights"].keys() == expected["weights"].keys()
            for name in ("test", "pred", "score"):
                np.testing.assert_array_equal(loaded[name], expected[name])
            for name, value in expected["weights"].items():
                np.testing.assert_array_equal(loaded["weights"][name], value)
    assert cache.load(ProbeKey("f" * 64, 0, "velocity", 0, "linear", "none", 2, "cfg")) is None
    assert cache.load_all(keys[:2]) is not None and cache.load_all([*keys[:2], ProbeKey("f" * 64, 2, "x", 0, "linear", "none", 0, "c")]) is None
    assert cache.save({}) == []


@pytest.mark.parametrize("content", [b"", b"not a zip file at all", b"PK\x03\x04" + bytes(40)])
def test_an_unreadable_cache_file_counts_as_missing(tmp_path, content):
    key = ProbeKey("a" * 64, 3, "speed", -1, "linear", "none", 0, "cfg")
    (tmp_path / key.file_name).write_bytes(content)
    cache = ProbeCache(tmp_path)
    assert cache.load(key) is None
    cache.save({key: _record(1)})  # written afresh over the damaged file
    np.testing.assert_array_equal(ProbeCache(tmp_path).load(key)["test"], _record(1)["test"])


def test_memo_files_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="memo_files"):
        ProbeCache(tmp_path, memo_files=0)
