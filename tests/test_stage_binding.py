"""The binding stage on planted token grids (known answers) and end to end from a real world file."""

from __future__ import annotations

import numpy as np
import pytest

from probekit.errors import BadOptionError
from probekit.evaluation.inputs import open_inputs
from probekit.stages import StageContext, StageSkipped, get_stage
from probekit.testing.planted import write_planted_store
from probekit.testing.planted_tokens import TOKEN_FORMS, write_token_store

from binding_suite import BINDING_SUITE


def _value(table, layer, method, scope, metric, target=""):
    rows = table[(table["layer"] == layer) & (table["method"] == method) & (table["scope"] == scope)
                 & (table["metric"] == metric) & (table["target"] == target)]
    assert len(rows) == 1, (layer, method, scope, metric, target)
    return rows.iloc[0]


SUITE = BINDING_SUITE


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    from probekit.evaluation import run_probe

    tmp = tmp_path_factory.mktemp("binding")
    store = write_token_store(tmp / "tokens.h5", n_clips=24, n_steps=3)
    suite = tmp / "suite.toml"
    suite.write_text(SUITE)
    run_probe([store], tmp / "run", suite=suite)
    return tmp / "run"


@pytest.fixture(scope="module")
def planted_table(planted_run):
    from probekit.rundir import load_run

    return load_run(planted_run).table("binding")


def test_bound_layer_groups_into_objects_and_keeps_each_state_in_its_own_tokens(planted_table):
    bound = TOKEN_FORMS.index("bound")
    assert _value(planted_table, bound, "kmeans", "clip", "fg_ari")["value"] >= 0.9
    assert _value(planted_table, bound, "kmeans", "clip", "identity")["value"] >= 0.9
    assert _value(planted_table, bound, "kmeans", "clip", "mbo")["value"] >= 0.6
    specificity = _value(planted_table, bound, "ridge", "summary", "specificity", "velocity")
    assert specificity["value"] >= 0.7 and specificity["ci_low"] >= 0.5
    leakage = planted_table[(planted_table["layer"] == bound) & (planted_table["metric"] == "leakage")
                            & (planted_table["scope"] == "tokens")]
    off = leakage[leakage["slot_i"] != leakage["slot_j"]]
    assert len(off) > 0 and (off["value"] < 0.2).all()  # another object's tokens tell nothing about j


def test_entangled_layer_has_low_specificity_with_high_pooled_decodability(planted_table):
    bound, entangled = TOKEN_FORMS.index("bound"), TOKEN_FORMS.index("entangled")
    spec = _value(planted_table, entangled, "ridge", "summary", "specificity", "velocity")
    assert spec["value"] <= 0.2
    assert spec["ci_high"] < _value(planted_table, bound, "ridge", "summary", "specificity", "velocity")["ci_low"]
    assert _value(planted_table, entangled, "ridge", "summary", "pooled_r2", "velocity")["value"] >= 0.8
    assert _value(planted_table, entangled, "ridge", "summary", "own_gain", "velocity")["value"] >= 0.8
    assert _value(planted_table, entangled, "ridge", "summary", "cross_gain", "velocity")["value"] >= 0.8


def test_position_only_encoder_matches_the_position_only_clustering(planted_table):
    position = TOKEN_FORMS.index("position")
    baseline = _value(planted_table, -1, "position", "clip", "fg_ari")["value"]
    tokens = _value(planted_table, position, "kmeans", "clip", "fg_ari")["value"]
    assert tokens == pytest.approx(baseline, abs=0.05)
    assert tokens < _value(planted_table, TOKEN_FORMS.index("bound"), "kmeans", "clip", "fg_ari")["value"] - 0.5
    noise = _value(planted_table, TOKEN_FORMS.index("noise"), "kmeans", "clip", "fg_ari")["value"]
    assert abs(noise) < 0.15


def test_table_is_tidy_and_counts_clips(planted_table):
    from probekit.stages.binding import COLUMNS

    assert list(planted_table.columns) == COLUMNS
    clip_rows = planted_table[planted_table["scope"] == "clip"]
    assert (clip_rows["n_clips"] + clip_rows["n_excluded"] == 24).all()  # every clip holds 2 or 3 objects
    assert set(planted_table["method"]) == {"kmeans", "ward", "position", "ridge"}


def test_report_shows_curves_leakage_and_frames(planted_run, tmp_path):
    from probekit.report.build import write_report

    html = write_report(planted_run, tmp_path / "r.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="binding">'):]
    section = section[:section.index("</section>")]
    for title in ("Binding per layer", "Leakage matrix (velocity)", "Masks and token clusters"):
        assert title in section
    assert section.count("data:image") == 3 and "specificity velocity" in section


def test_stores_without_full_tokens_are_skipped_naming_the_flag(tmp_path):
    store = write_planted_store(tmp_path / "pooled.h5", n_clips=12, n_steps=2, dim=4)
    inputs = open_inputs([store])
    with pytest.raises(StageSkipped, match="--pool mean,time,object,none"):
        get_stage("binding").run(StageContext(inputs=inputs, out=tmp_path))
    with pytest.raises(BadOptionError, match=r"\[stages.binding\]: unknown key"):
        get_stage("binding").run(StageContext(inputs=inputs, out=tmp_path, params={"n_int": 3}))
    with pytest.raises(BadOptionError, match="not a per-object continuous target"):
        get_stage("binding").run(StageContext(inputs=inputs, out=tmp_path, params={"targets": ["contact"]}))
    inputs[0].store.close()


@pytest.mark.slow
def test_end_to_end_from_a_generated_world(tmp_path, run_cli):
    world = tmp_path / "world.h5"
    done = run_cli("generate", "--out", world, "--clips", "10", "--frames", "8", "--size", "64", "--scenarios", "collide,stack,occlude")
    assert done.returncode == 0, done.stderr
    store = tmp_path / "pixels.h5"
    done = run_cli("extract", "--data", world, "--out", store, "--encoder", "pixels", "--pool", "mean,time,object,none", "--no-progress")
    assert done.returncode == 0, done.stderr
    suite = tmp_path / "suite.toml"
    suite.write_text('[suite]\nname = "tiny"\nreadouts = ["linear"]\ntargets = ["velocity"]\ncontrols = []\nfolds = 3\nn_boot = 20\n'
                     'stages = ["binding"]\n[stages.binding]\nn_boot = 20\nmin_samples = 5\n')
    run = tmp_path / "run"
    done = run_cli("probe", store, "--out", run, "--suite", suite)
    assert done.returncode == 0, done.stderr
    from probekit.rundir import load_run
    from probekit.store import Store
    from probekit.metrics.binding import labels_from_coverage, n_objects

    table = load_run(run).table("binding")
    with Store(store) as handle:
        eligible = sum(n_objects(t) >= 2 for t in labels_from_coverage(handle.labels("token_coverage")))
        n_clips = handle.n_clips
    clip_rows = table[(table["scope"] == "clip") & (table["metric"] == "fg_ari")]
    assert set(clip_rows["method"]) == {"kmeans", "ward", "position"}
    assert (clip_rows["n_clips"] == eligible).all() and (clip_rows["n_excluded"] == n_clips - eligible).all()
    assert np.all(clip_rows["value"].between(-1, 1))
    report = tmp_path / "r.html"
    done = run_cli("report", run, "--out", report)
    assert done.returncode == 0, done.stderr
    html = report.read_text(encoding="utf-8")
    assert 'id="binding"' in html and "Binding per layer" in html and "Masks and token clusters" in html


def test_binding_evidence_sits_under_the_verdicts(planted_run):
    """The bound layer (chosen by FG-ARI) gives the evidence: its specificity is the planted high one."""
    import re

    from probekit.report.sections import verdict_evidence
    from probekit.report.verdicts import Verdict, headline_rows
    from probekit.rundir import load_run

    run = load_run(planted_run)
    evidence = verdict_evidence(run)
    (store,) = run.stores
    bound = TOKEN_FORMS.index("bound")
    (ari_line,) = evidence[(store, "")]
    assert f"layer {bound}" in ari_line and "FG-ARI" in ari_line
    (spec_line,) = evidence[(store, "velocity")]
    value = float(re.search(r"specificity (-?\d+\.\d+)", spec_line).group(1))
    assert f"layer {bound}" in spec_line and value >= 0.7  # planted: each object's state in its own tokens
    verdicts = [Verdict(store, "encoder", "velocity", 0, "encoded", "linear gain"),
                Verdict(store, "encoder", "gravity", -1, "not carried by the data", "ceiling")]
    table = headline_rows(verdicts, evidence).set_index("target")
    assert spec_line in table.loc["velocity [slot 0]", "evidence"] and ari_line in table.loc["velocity [slot 0]", "evidence"]
    assert table.loc["gravity", "evidence"] == ""  # scene-level targets get no per-object binding line
    assert "evidence" not in headline_rows(verdicts).columns


def test_worker_processes_reproduce_the_serial_table(planted_run, planted_table, tmp_path):
    """Clusterings and leakage fits run by two joblib workers give the serial run's table bit for bit."""
    import pandas as pd

    from probekit.evaluation.run import run_stage_on_stores

    store = planted_run.parent / "tokens.h5"
    table, _ = run_stage_on_stores("binding", [store], tmp_path, seed=0, folds=4, params={"n_boot": 100, "targets": ["velocity"]},
                                   jobs=2)
    pd.testing.assert_frame_equal(table.reset_index(drop=True), planted_table.reset_index(drop=True), check_exact=True)
    assert pd.read_parquet(tmp_path / "tables" / "binding_frames.parquet").equals(
        pd.read_parquet(planted_run / "tables" / "binding_frames.parquet"))
