"""End to end on a real run: ``probekit probe`` on a planted-signal store (probekit.testing),
then ``probekit report``; the report's diagnosis must state the planted pattern, with the run's
own numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from real_run import ANSWER, NOT_FOUND, planted_real_run
from report_items import read_report

from probekit.report.build import write_report
from probekit.report.diagnosis import diagnose, fmt
from probekit.rundir import load_run


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    run_dir = planted_real_run(tmp_path_factory)
    return run_dir, write_report(run_dir, tmp_path_factory.mktemp("report") / "report.html")


def test_report_of_a_real_run_states_the_planted_pattern(real_run):
    run_dir, out = real_run
    items = read_report(out.read_text(encoding="utf-8")).by_target()
    selection = load_run(run_dir).selection
    for (target, slot), (pattern, readout, layer) in ANSWER.items():
        item = items[(target, slot)]
        assert item["pattern"] == pattern, (target, item["text"])
        row = selection[(selection["target"] == target) & (selection["slot"] == slot) & (selection["choice"] == "layer")
                        & (selection["readout"] == readout)].iloc[0]
        assert int(row["layer"]) == layer  # the planted layer, chosen by inner CV
    # velocity is planted nowhere: no readout may be said to find it
    for key in NOT_FOUND:
        assert items[key]["pattern"] in ("over-invariant", "not carried")


def test_numbers_in_the_text_are_the_runs(real_run):
    run_dir, out = real_run
    run = load_run(run_dir)
    items = read_report(out.read_text(encoding="utf-8")).by_target()
    checked = 0
    for d in diagnose(run.results, run.selection):
        if d.chosen is None:
            continue
        sel = run.selection
        row = sel[(sel["store"] == d.store) & (sel["target"] == d.target) & (sel["slot"] == d.slot)
                  & (sel["choice"] == "readout")].iloc[0]
        text = items[(d.target, d.slot)]["text"]
        assert row["readout"] == d.chosen_readout and f"{row['readout']} readout" in text
        for number in (row["score"], row["ci_low"], row["ci_high"]):
            assert fmt(number) in text
        required = ["nuisance", "geometry"] if d.chosen_readout == "object" else ["nuisance"]
        baseline = run.results[(run.results["target"] == d.target) & (run.results["slot"] == d.slot)
                               & (run.results["control"].isin(required)) & (run.results["scenario"] == "all")
                               & (run.results["metric"] == d.metric)]
        # the baseline quoted is a control row of the run, or chance (0 for R², 0.5 for balanced accuracy)
        # when every control scores below chance
        allowed = set(baseline["score"].map(fmt)) | {fmt({"r2": 0.0, "balanced_accuracy": 0.5}[d.metric])}
        assert fmt(d.chosen.baseline.score) in allowed and fmt(d.chosen.baseline.score) in text
        if d.chosen.baseline.label == "chance":
            assert (baseline["score"] <= {"r2": 0.0, "balanced_accuracy": 0.5}[d.metric]).all()
        checked += 1
    assert checked >= 4
    assert isinstance(run.results, pd.DataFrame)
