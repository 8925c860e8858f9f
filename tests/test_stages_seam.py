"""The stage seam: a registered stage runs after the probes, adds one table, and gets a section."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from probekit.errors import BadOptionError, FileFormatError
from probekit.evaluation import run_probe
from probekit.report.build import write_report
from probekit.report.sections import Section, register_section
from probekit.rundir import load_run
from probekit.stages import Stage, StageSkipped, register_stage, stage_names
from probekit.testing.planted import write_planted_store


def _layer_norms(context) -> pd.DataFrame:
    rows = []
    for item in context.inputs:
        for layer in item.store.layers:
            z = np.asarray(item.store.features(layer, "mean"), dtype=np.float64)
            rows.append({"store": item.label, "layer": int(layer), "mean_norm": float(np.linalg.norm(z, axis=-1).mean())})
    return pd.DataFrame(rows)


def _never(context) -> pd.DataFrame:
    raise StageSkipped("these stores hold no twins")


register_stage(Stage("toy_norms", "Toy layer norms", _layer_norms, needs=("mean",), description="Mean latent norm per layer."))
register_stage(Stage("toy_never", "Never runs", _never))
register_section("toy_norms", lambda run: Section("toy_norms", "Toy layer norms", table=run.table("toy_norms"),
                                                  intro="toy section rendered by its own module"))


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stage")
    store = write_planted_store(tmp / "planted.h5", n_clips=30, n_steps=4, dim=8)
    out = tmp / "run"
    run_probe([store], out, suite="quick", readouts=["linear"], targets=["speed"], folds=2, n_boot=20,
              stages=["toy_norms", "toy_never"])
    return store, out


def test_stage_table_matches_a_direct_computation(toy_run):
    store_path, out = toy_run
    run = load_run(out)
    assert run.stages == ["probe", "toy_norms"]
    assert run.manifest["stage_skips"] == {"toy_never": "these stores hold no twins"}
    table = run.table("toy_norms")
    import h5py

    with h5py.File(store_path, "r") as handle:
        layers = sorted(int(k) for k in handle["layers"].keys()) if "layers" in handle else None
    assert layers is None or sorted(table["layer"]) == layers
    assert (table["mean_norm"] > 0).all()
    assert (out / "tables" / "toy_norms.csv").is_file()
    with pytest.raises(FileFormatError, match="skipped: these stores hold no twins"):
        run.table("toy_never")


def test_report_renders_sections_only_for_stages_that_ran(toy_run, tmp_path):
    _, out = toy_run
    html = write_report(out, tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="toy_norms"' in html and "toy section rendered by its own module" in html
    assert "these stores hold no twins" in html  # the skip is stated, with its reason
    assert 'id="surprise"' not in html and 'id="attribution"' not in html


def test_unknown_stage_is_refused_naming_the_valid_ones(tmp_path):
    store = write_planted_store(tmp_path / "p.h5", n_clips=12, n_steps=2, dim=4)
    with pytest.raises(BadOptionError, match="unknown stage 'nope'.*probe"):
        run_probe([store], tmp_path / "run", suite="quick", stages=["nope"])
    assert stage_names()[0] == "probe"
    assert not (tmp_path / "run" / "manifest.json").exists() or not json.loads((tmp_path / "run" / "manifest.json").read_text()).get("complete")
