"""``probekit probe`` end to end: the run directory, resuming, several stores, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from probekit.evaluation.rundir import COMPARISON_COLUMNS, RESULT_COLUMNS, SELECTION_COLUMNS
from probekit.store import write_store
from probekit.testing import planted_layers, synthetic_labels, write_planted_store

QUICK = ["--suite", "quick", "--n-boot", "100", "--quiet"]


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    return write_planted_store(tmp / "small.h5", forms=("noise", "linear", "object", "contact"), dim=12, n_clips=50, n_steps=4, seed=2)


def test_probe_writes_run_directory_and_resumes(small_store, tmp_path, run_cli):
    out = tmp_path / "run"
    args = [small_store, "--out", out, *QUICK, "--readouts", "linear,object", "--targets", "position_camera,contact,acceleration_free"]
    first = run_cli("probe", *args)
    assert first.returncode == 0, first.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["format"] == "probekit.run"
    assert manifest["inputs"][0]["store_hash"] and manifest["folds"] == 5
    results = pd.read_parquet(out / "results.parquet")
    assert list(results.columns) == RESULT_COLUMNS
    assert len(pd.read_csv(out / "results.csv")) == len(results)
    assert list(pd.read_csv(out / "selection.csv").columns) == SELECTION_COLUMNS
    comparisons = pd.read_csv(out / "comparisons.csv")
    assert list(comparisons.columns) == COMPARISON_COLUMNS and len(comparisons) > 0
    assert {"none", "nuisance", "geometry", "control_task", "ceiling"} <= set(results.baseline)
    assert set(results.role) == {"planted", "labels"} and manifest["schema_version"] == 2
    # no layer (label-only baselines) is null in Parquet and an empty cell in the CSV copy
    assert str(results.layer.dtype) == "Int64" and results.layer[results.role == "labels"].isna().all()
    assert pd.read_csv(out / "results.csv").layer[results.role == "labels"].isna().all()
    # is_selected marks exactly the rows at the layer selection.csv names for each readout
    selection = pd.read_csv(out / "selection.csv")
    chosen = selection[selection.choice == "layer"]
    for row in chosen.itertuples():
        own = results[(results.store == row.store) & (results.target == row.target) & (results.slot == row.slot)
                      & (results.readout == row.readout) & (results.baseline == "none")]
        assert set(own[own.is_selected].layer) == {row.layer}
    assert not results[results.baseline != "none"].is_selected.any()
    assert all(isinstance(v, (list, np.ndarray)) for v in results.fold_scores)
    assert {"all", "drop", "collide"} <= set(results.scenario)
    probes = sorted((out / "probes").glob("*.npz"))
    assert len(probes) == 5  # one file per (store, layer): layers 0-3 and the label baselines (layer -1)
    entries = {p: _entries(p) for p in probes}
    with np.load(probes[0], allow_pickle=False) as data:
        assert any(k.endswith("/pred") for k in data.files) and any("/w_" in k for k in data.files)
    # an interrupted run (a layer's file lost, another missing some folds, no table) resumes: the
    # files of the layers whose fits are all there are reused untouched, the others are refitted
    # and complete again, and the table is the same
    lost, partial = probes[0], probes[1]
    dropped = sorted(entries[partial])[::7]
    with np.load(partial, allow_pickle=False) as data:
        kept = {k: data[k] for k in data.files if k.rpartition("/")[0] not in dropped}
    with open(partial, "wb") as handle:
        np.savez(handle, **kept)
    lost.unlink()
    stamps = {p: p.stat().st_mtime_ns for p in probes[2:]}
    (out / "results.parquet").unlink()
    second = run_cli("probe", *args)
    assert second.returncode == 0, second.stderr
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert sorted((out / "probes").glob("*.npz")) == probes
    assert {p: _entries(p) for p in probes} == entries
    pd.testing.assert_frame_equal(results, pd.read_parquet(out / "results.parquet"))


def _entries(path) -> set[str]:
    """The entries (fitted folds) of one probe cache file."""
    with np.load(path, allow_pickle=False) as data:
        return {name.rpartition("/")[0] for name in data.files}


def test_two_aligned_stores_share_one_table(tmp_path, run_cli):
    labels, clips, frames = synthetic_labels(n_clips=40, n_steps=4, seed=4)
    a = write_planted_store(tmp_path / "a.h5", labels, clips, frames, forms=("linear",), dim=8, seed=4)
    order = np.random.default_rng(0).permutation(40)
    layers = planted_layers(labels, ("noise",), dim=8, seed=9)
    shuffled_labels = {k: (v if k == "frame_mid" else v[order]) for k, v in labels.items()}
    b = write_store(
        tmp_path / "b.h5",
        attrs={"encoder": "noise", "weights": "random"},
        clips={k: [v[i] for i in order] for k, v in clips.items()},
        layers={0: {kind: arr[order] for kind, arr in layers[0].items()}},
        labels=shuffled_labels,
        token_frames=frames,
    )
    out = tmp_path / "run"
    proc = run_cli("probe", a, b, "--out", out, *QUICK, "--readouts", "linear", "--targets", "position_camera")
    assert proc.returncode == 0, proc.stderr
    table = pd.read_parquet(out / "results.parquet")
    r2 = table[(table.metric == "r2") & (table.scenario == "all") & (table.slot == 0) & (table.readout == "linear") & (table.layer == 0)]
    by_store = r2[r2.baseline == "none"].set_index(["store", "role"])["score"]
    assert by_store[("planted:planted", "planted")] > 0.5
    assert by_store[("noise:random", "random_twin")] < 0.1
    # the per-store pivot on the tidy columns shows every store, the random twin included
    pivot = r2[r2.baseline == "none"].pivot_table(index="target", columns="store", values="score")
    assert set(pivot.columns) == {"planted:planted", "noise:random"}
    comparisons = pd.read_csv(out / "comparisons.csv")
    pair = comparisons[(comparisons.a.str.startswith("planted")) & (comparisons.b.str.startswith("noise")) & (comparisons.slot == 0)]
    assert len(pair) == 1 and pair.iloc[0].ci_low > 0


def _store_with(tmp_path, name, *, nan_at=None, drop_label=None, constant_gravity=False, rename=False, n_clips=30):
    labels, clips, frames = synthetic_labels(n_clips=n_clips, n_steps=4, seed=6)
    if drop_label:
        labels.pop(drop_label)
    if constant_gravity:
        labels["clip/gravity"] = np.full_like(labels["clip/gravity"], 9.81)
    if rename:
        clips = {**clips, "clip_id": [f"other{i}" for i in range(n_clips)]}
    layers = planted_layers(labels, ("noise", "linear"), dim=8, seed=6)
    if nan_at is not None:
        layers[1]["time"][nan_at, 0, 0] = np.nan
    return write_store(tmp_path / name, attrs={"encoder": "planted"}, clips=clips, layers=layers, labels=labels, token_frames=frames)


@pytest.mark.parametrize(
    "case, expect",
    [
        ("nan", ["layer 1", "clip0003"]),
        ("absent", ["--targets visible_fraction", "labels present", "position_camera"]),
        ("unknown", ["--targets", "valid targets", "position_camera"]),
        ("folds", ["--folds 40", "families"]),
        ("different", ["different clips"]),
        ("same", ["same store"]),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, run_cli, case, expect):
    good = _store_with(tmp_path, "good.h5")
    args = {
        "nan": [_store_with(tmp_path, "nan.h5", nan_at=3), "--targets", "position_camera"],
        "absent": [_store_with(tmp_path, "absent.h5", drop_label="visible_fraction"), "--targets", "visible_fraction"],
        "unknown": [good, "--targets", "teleportation"],
        "folds": [good, "--targets", "position_camera", "--folds", "40"],
        "different": [good, _store_with(tmp_path, "other.h5", rename=True), "--targets", "position_camera"],
        "same": [good, good, "--targets", "position_camera"],
    }[case]
    proc = run_cli("probe", *args, "--out", tmp_path / "run", "--suite", "quick", "--quiet", "--readouts", "linear")
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    for fragment in expect:
        assert fragment in lines[0]
    if case == "nan":  # found while fitting: the run directory stays, marked incomplete (resumable)
        assert json.loads((tmp_path / "run" / "manifest.json").read_text())["complete"] is False
    else:  # refused before anything was written: no empty run directory is left behind
        assert not (tmp_path / "run").exists()


def test_constant_target_is_skipped_with_reason(tmp_path, run_cli):
    store = _store_with(tmp_path, "const.h5", constant_gravity=True)
    out = tmp_path / "run"
    proc = run_cli("probe", store, "--out", out, *QUICK, "--readouts", "linear", "--targets", "gravity,position_camera")
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(out / "results.csv")
    skipped = table[table.target == "gravity"]
    assert len(skipped) == 1 and "constant target" in skipped.iloc[0].note
    assert (table.target == "position_camera").any()


def test_a_run_without_any_score_says_why_in_its_summary(small_store, tmp_path, run_cli):
    """--readouts spatial on a store without grid features: the summary names the missing features, not only 'no score'."""
    proc = run_cli("probe", small_store, "--out", tmp_path / "run", *QUICK, "--readouts", "spatial", "--targets", "position_camera")
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stderr.splitlines() if "no target has a finite score" in line)
    assert "has no 'grid' features" in line, line
