"""Version 2 of the run format: role and baseline apart, version-1 runs read and converted,
other versions refused in one line (docs/formats.md, "Run directory")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from planted_run import make_planted_run

from probekit.errors import FileFormatError
from probekit.formats.run import RESULT_COLUMNS, store_role, tidy_results
from probekit.rundir import load_run


def test_version_1_run_is_read_with_role_and_baseline_apart(tmp_path):
    run_dir = make_planted_run(tmp_path / "run", with_store=False)
    raw = pd.read_csv(run_dir / "results.csv")  # version 1: one `control` column for both concepts
    run = load_run(run_dir)
    results = run.results
    assert set(RESULT_COLUMNS) <= set(results.columns)
    # every version-1 row maps to exactly one (role, baseline) and back
    assert len(results) == len(raw)
    assert dict(zip(results.store, results.role)) == {"planted": "planted", "pixels": "pixels", "labels": "labels", "": ""}
    own = raw[raw.control.isin(["none", "pixels"])]
    assert (results.baseline == "none").sum() == len(own)
    assert set(results.loc[results.baseline != "none", "baseline"]) == set(raw.control) - {"none", "pixels"}
    assert (results.control.to_numpy() == raw.sort_values(list(raw.columns)).control.to_numpy()).all() or \
        sorted(results.control) == sorted(raw.control)
    # the per-store pivot on the tidy columns keeps the pixel baseline store (the version-1 trap:
    # control == 'none' dropped it)
    pivot = results.query("baseline == 'none' and role != 'labels' and metric == 'r2' and scenario == 'all'").pivot_table(
        index="target", columns="store", values="score", aggfunc="max")
    assert set(pivot.columns) == {"planted", "pixels"}
    assert set(raw.query("control == 'none' and metric == 'r2'").store) == {"planted"}
    # is_selected: the layer selection.csv names, per readout
    chosen = run.selection[run.selection.choice == "layer"][["store", "target", "slot", "readout", "layer"]]
    merged = results[results.baseline == "none"].merge(chosen, on=["store", "target", "slot", "readout"], suffixes=("", "_chosen"))
    assert len(merged[merged.is_selected].drop_duplicates(["store", "target", "slot", "readout"])) == len(chosen)
    assert (merged.is_selected == (merged.layer == merged.layer_chosen)).all()
    # "no slot" and "no layer" are nulls of nullable integers, not -1
    assert str(results.slot.dtype) == "Int64" and str(results.layer.dtype) == "Int64"
    assert results.layer[results.role == "labels"].isna().all() and (results.layer.dropna() >= 0).all()
    assert results.slot[results.target == "gravity"].isna().all() and (results.slot.dropna() >= 0).all()


@pytest.mark.parametrize("version", [0, 3, "2"])
def test_other_versions_are_refused_in_one_line(tmp_path, run_cli, version):
    run_dir = make_planted_run(tmp_path / "run", with_store=False)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["schema_version"] = version
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(FileFormatError, match=f"schema version {version} found, this probekit reads versions 1 and 2"):
        load_run(run_dir)
    proc = run_cli("report", run_dir, "--out", tmp_path / "r.html")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and f"version {version}" in lines[0]


def test_role_of_each_kind_of_store():
    assert store_role("none", "vjepa2", "tiny") == "encoder"
    assert store_role("none", "", "") == ""
    assert store_role("random_init", "vjepa2") == "random_twin"
    assert store_role("pixels", "pixels") == "pixels"
    assert store_role("shuffled", "vjepa2") == "shuffled"
    assert store_role("none", "planted") == "planted"
    assert store_role("none", "", "labels@8steps") == "labels"


def test_tidy_table_splits_a_random_twins_baseline_rows():
    """A random twin's nuisance row keeps the twin's role (version 1 lost it: control = nuisance)."""
    base = {"store_hash": "", "encoder": "tiny", "weights": "random", "layer": 0, "target": "contact", "slot": 0,
            "readout": "linear", "scenario": "all", "metric": "r2", "score": 0.1, "ci_low": 0.0, "ci_high": 0.2,
            "fold_scores": "[0.1, null]", "n": 10, "n_families": 5, "unit": "1", "note": ""}
    rows = [{**base, "store": "twin", "control": "random_init"}, {**base, "store": "twin", "control": "control_task"}]
    table = tidy_results(rows, [], {"twin": "random_twin"})
    assert list(table.columns) == RESULT_COLUMNS
    assert list(table.role) == ["random_twin", "random_twin"]
    assert sorted(table.baseline) == ["control_task", "none"]
    assert len(table.fold_scores.iloc[0]) == 2 and pd.isna(table.fold_scores.iloc[0][1])


V1_FIXTURE = Path(__file__).parent / "fixtures" / "run_v1_planted"


def test_tables_equal_those_of_format_version_1(tmp_path):
    """The same probe as the version-1 run in tests/fixtures (written by probekit before format v2):
    every row maps to one row of today's table, with equal scores, intervals and fold scores
    (within 1e-12), and the selection table is the same."""
    import probekit as pk
    from probekit.formats.run import STORE_CONTROLS
    from probekit.testing import write_planted_store

    store = write_planted_store(tmp_path / "planted.h5", forms=("noise", "linear", "object", "contact"), dim=12, n_clips=40,
                                n_steps=4, seed=11)
    run = pk.probe(store, tmp_path / "run", suite=V1_FIXTURE / "suite.toml")
    old = pd.read_csv(V1_FIXTURE / "results.csv.gz", keep_default_na=False, na_values=[""])
    # the mapping of version-1 columns to version 2
    old["baseline"] = np.where(old.control.isin(STORE_CONTROLS), "none", old.control)
    for column in ("layer", "slot"):
        old[column] = old[column].astype("Int64").where(old[column] >= 0)
    keys = ["store", "layer", "target", "slot", "readout", "baseline", "scenario", "metric"]
    merged = old.merge(run.results, on=keys, suffixes=("_v1", ""), how="outer", indicator=True)
    assert (merged["_merge"] == "both").all() and len(merged) == len(old) == len(run.results)
    assert set(run.results.role) == {"planted", "labels"}
    for column in ("score", "ci_low", "ci_high"):
        np.testing.assert_allclose(merged[column].to_numpy(float), merged[f"{column}_v1"].to_numpy(float), rtol=0, atol=1e-12)
    for new_folds, old_folds in zip(merged["fold_scores"], merged["fold_scores_v1"]):
        expected = [np.nan if v is None else v for v in json.loads(old_folds)] if isinstance(old_folds, str) else []
        np.testing.assert_allclose(np.asarray(new_folds, float), np.asarray(expected, float), rtol=0, atol=1e-6)  # v1 rounded to 6 digits
    selection = pd.read_csv(V1_FIXTURE / "selection.csv", keep_default_na=False, na_values=[""])
    for column in ("layer", "slot"):
        selection[column] = selection[column].astype("Int64").where(selection[column] >= 0)
    pd.testing.assert_frame_equal(run.selection.reset_index(drop=True), selection, check_dtype=False, rtol=0, atol=1e-12)


def test_a_stage_added_to_a_finished_run_is_listed_once_and_readable(tmp_path):
    from probekit.formats.run import add_stage_to_run

    run_dir = make_planted_run(tmp_path / "run", with_store=False)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["stage_skips"] = {"surprise": "no violation twins in these stores"}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    table = pd.DataFrame({"store": ["a", "b"], "score": [0.25, 0.75]})
    for _ in range(2):  # adding again replaces the table and keeps one entry
        add_stage_to_run(run_dir, "surprise", table, {"data": "../voe.h5"})
    run = load_run(run_dir)
    assert run.stages.count("surprise") == 1 and run.stages[0] == "probe"
    assert "surprise" not in run.manifest.get("stage_skips", {}) and run.manifest["surprise"] == {"data": "../voe.h5"}
    pd.testing.assert_frame_equal(run.table("surprise"), table)
