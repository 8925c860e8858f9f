"""The latent store's one home (probekit.formats.store) and writers that go through atomic_path."""

from __future__ import annotations

import math
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from _worlds import generated_world

import probekit.store
from probekit.evaluation.cache import ProbeCache, ProbeKey
from probekit.extraction import ExtractConfig, parts_dir_for, run_extract
from probekit.formats import set_write_hook
from probekit.formats import store as store_format
from probekit.h5io import atomic_h5, open_checked

DOCS = Path(__file__).resolve().parents[1] / "docs" / "formats.md"


@pytest.fixture
def boundaries():
    """Every write boundary (destination path) crossed while the test runs."""
    seen: list[Path] = []
    previous = set_write_hook(seen.append)
    yield seen
    set_write_hook(previous)


def _store_section() -> str:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index("## Latent store")
    return text[start : text.index("\n## ", start + 1)]


def test_documented_layout_matches_the_schema_constants():
    section = _store_section()
    heading = re.search(r'`format = "([^"]+)"`, `schema_version = (\d+)`', section)
    assert heading is not None
    assert (store_format.FORMAT_NAME, store_format.SCHEMA_VERSION) == (heading.group(1), int(heading.group(2)))
    documented = set(re.findall(r"\| `([a-z_]+/[a-z_<>/]+)`", section))
    for name in (store_format.TOKEN_FRAMES, store_format.FRAME_ORDER, store_format.FRAME_MID):
        assert name in documented
    for kind in store_format.FEATURE_KINDS:
        assert f"layers/<i>/{kind}" in documented
    assert "formats/store.py" in section


def test_public_names_are_the_home_module_objects():
    assert probekit.store.Store is store_format.Store
    assert probekit.store.write_store is store_format.write_store


def test_write_store_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(5, 8)).astype(np.float32)
    time = rng.normal(size=(5, 3, 8)).astype(np.float32)
    velocity = rng.normal(size=(5, 3, 2, 3))
    path = store_format.write_store(
        tmp_path / "s.h5", attrs={"encoder": "test"}, clips={"clip_id": list("abcde"), "family_id": list("aabbc")},
        layers={2: {"mean": mean, "time": time}}, labels={"velocity_world": velocity, "clip/gravity": np.full(5, 9.81)},
        token_frames=np.array([[0, 1], [2, 3], [4, 5]]), dtype="float32",
    )
    with store_format.Store(path) as store:
        assert store.layers == [2] and store.n_clips == 5
        np.testing.assert_array_equal(store.features(2, "mean"), mean)
        np.testing.assert_array_equal(store.features(-1, "time"), time)
        np.testing.assert_array_equal(store.labels("velocity_world"), velocity)
        assert store.label_names == ["clip/gravity", "velocity_world"]
        assert list(store.clips()["family_id"]) == list("aabbc")
    with h5py.File(path, "r") as f:  # the documented layout, read with h5py alone
        assert f.attrs["format"] == "probekit.store" and bool(f.attrs["complete"])
        np.testing.assert_array_equal(f["layers/2/time"][()], time)
        np.testing.assert_array_equal(f["layout/token_frames"][()], [[0, 1], [2, 3], [4, 5]])
    assert [p.name for p in tmp_path.iterdir()] == ["s.h5"]


def test_concurrent_writers_of_one_path_use_distinct_temporaries(tmp_path):
    out = tmp_path / "same.h5"
    with atomic_h5(out, "store", {"writer": "first"}) as first, atomic_h5(out, "store", {"writer": "second"}) as second:
        first_tmp, second_tmp = Path(first.filename), Path(second.filename)
        assert first_tmp != second_tmp and first_tmp.exists() and second_tmp.exists()
        assert out.name in first_tmp.name and first_tmp.parent == tmp_path
        first.create_dataset("x", data=np.arange(3))
        second.create_dataset("x", data=np.arange(4))
    # the outer writer finished last: its file is the one in place, whole and complete
    with open_checked(out, "store") as f:
        assert f.attrs["writer"] == "first" and f["x"].shape == (3,)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.h5"]


def test_failed_writer_leaves_nothing(tmp_path):
    out = tmp_path / "broken.h5"
    with pytest.raises(RuntimeError):
        with atomic_h5(out, "store") as f:
            f.create_dataset("x", data=np.arange(3))
            raise RuntimeError("writer died")
    assert list(tmp_path.iterdir()) == []


def test_extraction_commits_every_unit_and_the_store_through_write_boundaries(tmp_path, boundaries):
    world = generated_world(4, seed=0, frames=8, size=32)
    out = tmp_path / "pixels.h5"
    batch = 3
    run_extract(ExtractConfig(data=str(world), out=str(out), encoder="pixels", layers="all", pool="mean",
                              batch_size=batch, dtype="float32", progress=False))
    with h5py.File(world, "r") as f:
        n_clips = int(f["clips/clip_id"].shape[0])
    parts = parts_dir_for(out)
    units = [parts / f"unit-{u:06d}.h5" for u in range(math.ceil(n_clips / batch))]
    crossed = [Path(p) for p in boundaries]
    for unit in units:
        assert crossed.count(unit) == 1
    assert crossed.count(out) == 2  # the incomplete placeholder, then the finished store
    assert crossed[-1] == out
    assert not parts.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["pixels.h5"]
    with store_format.Store(out) as store:
        assert store.n_clips == n_clips


def test_probe_cache_writes_through_a_boundary(tmp_path, boundaries):
    cache = ProbeCache(tmp_path)
    keys = [ProbeKey("abc", 1, "velocity", 0, "linear", "none", fold, "cfg") for fold in range(3)]
    test, pred = np.arange(4), np.linspace(0, 1, 4)
    cache.save({key: {"test": test + key.fold, "pred": pred, "inner": 0.5, "weights": {"coef": np.ones(3)}} for key in keys})
    path = cache.file(keys[0])
    assert boundaries == [path]  # every fold of one (store, layer) in one rewrite
    loaded = ProbeCache(tmp_path).load(keys[2])
    np.testing.assert_array_equal(loaded["test"], test + 2)
    np.testing.assert_array_equal(loaded["weights"]["coef"], np.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
