"""Label baselines as a registry: each declares the labels it needs (a store without them skips it
with the reason), and a baseline registered in one place is fitted and reported like the built-ins."""

from __future__ import annotations

import numpy as np
import pytest

from probekit.errors import BadOptionError
from probekit.evaluation.controls import LABEL_BASELINES, LabelBaseline, control_names, register_baseline
from probekit.testing import synthetic_labels, write_planted_store


def _suite(tmp_path, controls):
    path = tmp_path / "suite.toml"
    path.write_text('[suite]\nname = "c"\nreadouts = ["linear", "object"]\ntargets = ["position_camera"]\n'
                    f"controls = {controls!r}\nfolds = 3\nn_boot = 20\n".replace("'", '"'))
    return path


def test_a_store_without_masks_skips_the_mask_baselines_with_the_reason(tmp_path):
    import probekit as pk

    import h5py

    labels, clips, frames = synthetic_labels(n_clips=30, n_steps=4, seed=2)
    store = write_planted_store(tmp_path / "nomask.h5", labels, clips, frames, forms=("linear",), dim=8, seed=2)
    with h5py.File(store, "r+") as f:  # a store of a source without masks
        del f["labels/token_coverage"]
    run = pk.probe(store, tmp_path / "run", suite=_suite(tmp_path, ["nuisance", "geometry", "ceiling"]))
    notes = [entry["note"] for entry in run.manifest["skipped"] if entry.get("control")]
    assert any(n.startswith("skipped control geometry: the stores have no labels/token_coverage") for n in notes), notes
    assert any(n.startswith("skipped control ceiling: the stores have no labels/token_coverage") for n in notes), notes
    assert set(run.results.baseline) >= {"none", "nuisance"} and not {"geometry", "ceiling"} & set(run.results.baseline)


def test_a_registered_baseline_is_fitted_and_reported(tmp_path, monkeypatch):
    """A 'frame only' baseline registered in one call gets its own label-store rows in the table."""
    import probekit as pk

    frame_only = LabelBaseline("frame_only", lambda labels, scenarios, data: data.step[:, None].astype(float),
                               lambda suite: ["linear"], needs=("exists",))
    monkeypatch.setitem(LABEL_BASELINES, "frame_only", frame_only)  # as register_baseline does; removed after the test
    assert register_baseline(frame_only) is frame_only
    assert "frame_only" in control_names()
    labels, clips, frames = synthetic_labels(n_clips=30, n_steps=4, seed=3)
    store = write_planted_store(tmp_path / "p.h5", labels, clips, frames, forms=("linear",), dim=8, seed=3)
    run = pk.probe(store, tmp_path / "run", suite=_suite(tmp_path, ["nuisance", "frame_only"]))
    rows = run.results[(run.results.baseline == "frame_only") & (run.results.metric == "r2") & (run.results.scenario == "all")]
    assert len(rows) and (rows.role == "labels").all()


def test_an_unknown_control_lists_the_registered_ones(tmp_path):
    from probekit.evaluation.suite import load_suite

    with pytest.raises(BadOptionError, match="valid controls: nuisance, geometry, ceiling, control_task"):
        load_suite(_suite(tmp_path, ["nuisanse"]))
