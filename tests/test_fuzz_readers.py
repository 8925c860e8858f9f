"""Fuzzed readers: damaged world files, stores, run directories, recipes and suites give a probekit
error (one line) or read correctly, never another exception.

Damage: truncation, bit flips, deleted groups and datasets, attributes and datasets of the wrong
type or shape, and arbitrary TOML values. A few hundred cases run by default; the ``slow`` test
runs over 10,000.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probekit.errors import ProbekitError

SETTINGS = dict(deadline=5000, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """A small real world file, its pixels store and a run directory over it."""
    from probekit.evaluation import run_probe
    from probekit.extraction.run import ExtractConfig, run_extract
    from probekit.worlds import generate_world

    folder = tmp_path_factory.mktemp("fuzz-originals")
    world = generate_world(folder / "world.h5", clips=4, seed=1, frames=4, size=16, scenarios="drop", progress=False)
    store = folder / "store.h5"
    run_extract(ExtractConfig(data=str(world), out=str(store), encoder="pixels", dtype="float32", device="cpu", progress=False))
    suite = folder / "suite.toml"
    suite.write_text('[suite]\ntargets = ["speed"]\nreadouts = ["linear"]\ncontrols = []\nfolds = 2\nn_boot = 5\n')
    run = folder / "run"
    run_probe([store], run, suite=str(suite), folds=2, n_boot=5)
    return {"world": world, "store": store, "run": run}


def read_world(path: Path) -> None:
    from probekit.data.worlds import WorldFile
    from probekit.summary import describe

    describe(path)
    with WorldFile(path) as world:
        world.clips()
        for name in world.dataset_names:
            world.read(name, clips=[0])


def read_store(path: Path) -> None:
    from probekit.store import Store
    from probekit.summary import describe

    describe(path)
    with Store(path) as store:
        store.clips()
        for layer in store.layers:
            for kind in store.feature_kinds(layer):
                store.features(layer, kind)
        for name in store.label_names:
            store.labels(name)


def read_run(path: Path) -> None:
    from probekit.rundir import load_run

    run = load_run(path)
    for stage in run.stages:
        run.table(stage)


READERS = {"world": read_world, "store": read_store}


def _objects(path: Path) -> list[str]:
    names: list[str] = []
    with h5py.File(path, "r") as f:
        f.visit(names.append)
    return sorted(names)


@st.composite
def damage(draw, size: int, objects: list[str]):
    """One way of damaging an HDF5 file: ("truncate", n), ("flip", offsets), ("delete", name), ("attr", key, value), ("retype", name)."""
    kind = draw(st.sampled_from(["truncate", "flip", "delete", "attr", "retype"]))
    if kind == "truncate":
        return ("truncate", draw(st.integers(0, size - 1)))
    if kind == "flip":
        return ("flip", draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=8)))
    if kind == "delete":
        return ("delete", draw(st.sampled_from(objects)))
    if kind == "attr":
        key = draw(st.sampled_from(["format", "schema_version", "complete", "layer_indices", "n_clips", "pool",
                                    "token_grid", "k_max", "n_frames", "image_size", "slot_roles", "sampling", "dtype"]))
        value = draw(st.one_of(st.integers(-3, 10**6), st.text(max_size=8), st.booleans(), st.just("[1, 2"),
                               st.just('{"a": 1}'), st.floats(allow_nan=True)))
        return ("attr", key, value)
    return ("retype", draw(st.sampled_from(objects)), draw(st.sampled_from(["text", "scalar", "short", "float"])))


def apply(original: Path, target: Path, change: tuple) -> None:
    """Write ``original`` damaged by ``change`` to ``target``."""
    if change[0] in ("truncate", "flip"):
        data = bytearray(original.read_bytes())
        if change[0] == "truncate":
            data = data[: change[1]]
        else:
            for offset in change[1]:
                data[offset] ^= 0xFF
        target.write_bytes(bytes(data))
        return
    shutil.copyfile(original, target)
    with h5py.File(target, "r+") as f:
        if change[0] == "delete":
            if change[1] in f:
                del f[change[1]]
        elif change[0] == "attr":
            f.attrs[change[1]] = change[2]
        else:
            name, how = change[1], change[2]
            if name in f and isinstance(f[name], h5py.Dataset):
                old = f[name]
                replacement = {"text": np.array(["x"], dtype=h5py.string_dtype()), "scalar": np.int64(7),
                               "short": old[()][:1] if old.shape else np.zeros(1),
                               "float": np.full(old.shape, np.nan, dtype=np.float64)}[how]
                del f[name]
                f[name] = replacement


def _check(reader, path: Path) -> None:
    try:
        reader(path)
    except ProbekitError as exc:
        assert "\n" not in str(exc)


def _fuzz_files(originals, tmp_path_factory, examples: int) -> None:
    folder = tmp_path_factory.mktemp("fuzz-files")
    for kind, reader in READERS.items():
        original = originals[kind]
        size, objects = original.stat().st_size, _objects(original)

        @settings(max_examples=examples, **SETTINGS)
        @given(change=damage(size, objects))
        def check(change):
            target = folder / f"damaged-{kind}.h5"
            apply(original, target, change)
            _check(reader, target)

        check()


def test_damaged_world_files_and_stores_give_probekit_errors(originals, tmp_path_factory):
    _fuzz_files(originals, tmp_path_factory, examples=60)


RUN_FILES = ("manifest.json", "results.parquet", "results.csv", "selection.csv", "comparisons.csv")


@st.composite
def run_damage(draw):
    name = draw(st.sampled_from(RUN_FILES))
    how = draw(st.sampled_from(["delete", "truncate", "flip", "json"]))
    return name, how, draw(st.integers(0, 10**6)), draw(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
                                                                    st.dictionaries(st.sampled_from(["format", "schema_version", "complete", "inputs", "stages"]),
                                                                                    st.one_of(st.integers(), st.text(max_size=5), st.booleans()), max_size=3)))


def _fuzz_runs(originals, tmp_path_factory, examples: int) -> None:
    folder = tmp_path_factory.mktemp("fuzz-runs")

    @settings(max_examples=examples, **SETTINGS)
    @given(change=run_damage())
    def check(change):
        name, how, offset, value = change
        target = folder / "run"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(originals["run"], target)
        path = target / name
        if path.exists():
            data = bytearray(path.read_bytes())
            if how == "delete":
                path.unlink()
            elif how == "truncate":
                path.write_bytes(bytes(data[: offset % max(len(data), 1)]))
            elif how == "flip" and data:
                data[offset % len(data)] ^= 0xFF
                path.write_bytes(bytes(data))
            elif how == "json" and name == "manifest.json":
                manifest = json.loads(data)
                if isinstance(value, dict):
                    manifest.update(value)
                    path.write_text(json.dumps(manifest))
                else:
                    path.write_text(json.dumps(value))
        _check(read_run, target)

    check()


def test_damaged_run_directories_give_probekit_errors(originals, tmp_path_factory):
    _fuzz_runs(originals, tmp_path_factory, examples=40)


TOML_VALUES = st.recursive(
    st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
              st.text(max_size=6), st.sampled_from(["all", "linear", "velocity", "pixels", "float16", "last", "probe"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)
SUITE_KEYS = st.sampled_from(["suite", "suite.name", "suite.targets", "suite.readouts", "suite.controls", "suite.folds",
                              "suite.seed", "suite.n_boot", "suite.layers", "suite.layers.mlp", "suite.ceiling",
                              "suite.ceiling.readouts", "suite.control_task_binary", "suite.stages", "readouts.linear.alphas",
                              "readouts.linear.Cs", "readouts.mlp.hidden", "readouts.mlp.lr", "readouts.attentive.width",
                              "readouts", "stages", "stages.probe", "bogus"])
EXTRACT_KEYS = st.sampled_from(["encoder", "init", "layers", "pool", "dtype", "batch_size", "device", "compression", "resume",
                                "overwrite", "shuffle_frames", "frame_step", "window", "stride", "on_bad_video",
                                "seed", "threads", "max_clips", "progress", "encoder_options", "batch-size", "bogus"])
TRAIN_KEYS = st.sampled_from(["name", "model", "model.hidden_size", "model.mlp_ratio", "model.crop_size", "data.path",
                              "data.clips", "data.seed", "objective.masking", "objective.aspect_ratio",
                              "objective.regularizer_weight", "objective.ema_start", "optimization.lr", "optimization.steps",
                              "optimization.batch_size", "optimization.seed", "optimization.threads", "bogus", "model.bogus"])


def _nest(items: list[tuple[str, object]]) -> dict:
    data: dict = {}
    for dotted, value in items:
        *parents, leaf = dotted.split(".")
        node = data
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = value
    return data


def _value(value: object) -> str:
    """``value`` as a TOML value (inline tables and arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value == float("inf") else "-inf" if value == float("-inf") else repr(value))
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + "}"


def _toml(data: dict) -> bytes:
    """Top-level keys as ``key = value`` lines (tables inline)."""
    return "".join(f"{json.dumps(k)} = {_value(v)}\n" for k, v in data.items()).encode()


def _fuzz_configs(tmp_path_factory, examples: int) -> None:
    from probekit.evaluation.suite import load_suite
    from probekit.extraction.recipe import load_recipe as load_extract_recipe
    from probekit.training.recipe import load_recipe as load_train_recipe

    folder = tmp_path_factory.mktemp("fuzz-configs")
    loaders = {"suite": (load_suite, SUITE_KEYS), "extract": (load_extract_recipe, EXTRACT_KEYS),
               "train": (load_train_recipe, TRAIN_KEYS)}
    for name, (loader, keys) in loaders.items():
        @settings(max_examples=examples, **SETTINGS)
        @given(items=st.lists(st.tuples(keys, TOML_VALUES), max_size=4), noise=st.one_of(st.none(), st.binary(max_size=12)))
        def check(items, noise):
            path = folder / f"{name}.toml"
            text = _toml(_nest(items))
            path.write_bytes(text if noise is None else text + noise)
            _check(loader, path)

        check()


def test_fuzzed_suites_and_recipes_give_probekit_errors(tmp_path_factory):
    _fuzz_configs(tmp_path_factory, examples=40)


@pytest.mark.slow
def test_fuzzed_readers_ten_thousand_cases(originals, tmp_path_factory):
    _fuzz_files(originals, tmp_path_factory, examples=2500)
    _fuzz_runs(originals, tmp_path_factory, examples=2000)
    _fuzz_configs(tmp_path_factory, examples=1200)
