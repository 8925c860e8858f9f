"""The diagnosis logic against planted results tables whose right answer is written down."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planted_run import CHOSEN, EXPECTED, planted_results, planted_selection

from probekit.report.diagnosis import Thresholds, diagnose, fmt, sentence


def _by_key(diagnoses):
    return {(d.store, d.target, d.slot): d for d in diagnoses}


def test_planted_patterns_layers_and_scores_are_recovered():
    found = _by_key(diagnose(planted_results(), planted_selection()))
    for key, pattern in EXPECTED.items():
        assert found[key].pattern == pattern, (key, found[key].reason)
        readout, layer, score = CHOSEN[key]
        chosen = found[key].chosen
        assert (chosen.readout, chosen.layer, chosen.score.score) == (readout, layer, score)
        assert found[key].readout_by_inner_cv and chosen.layer_by_inner_cv
    assert found[("all stores", "mass", 0)].pattern == "skipped"
    assert "constant target" in found[("all stores", "mass", 0)].reason


def test_layer_comes_from_inner_cv_not_from_the_best_test_score():
    found = _by_key(diagnose(planted_results(), planted_selection()))
    d = found[("planted", "position_camera", 0)]
    linear = d.readouts["linear"]
    # the planted test curve peaks at layer 3 (0.83); selection.csv says layer 2, nested score 0.79
    assert (linear.layer, linear.score.score, linear.nested) == (2, 0.79, True)
    assert linear.per_fold_layers == [2, 2, 3, 2, 2]
    d.chosen_readout = "linear"
    assert "layers 2, 2, 3, 2, 2" in sentence(d)


def test_without_selection_the_best_test_layer_is_used_and_flagged():
    found = _by_key(diagnose(planted_results(), None))
    d = found[("planted", "position_camera", 0)]
    assert (d.readouts["linear"].layer, d.readouts["linear"].score.score) == (3, 0.83)
    assert not d.readouts["linear"].layer_by_inner_cv
    assert not d.readout_by_inner_cv
    assert "optimistic" in sentence(d)


def test_gains_and_baselines_equal_the_table():
    results = planted_results()
    found = _by_key(diagnose(results, planted_selection()))
    obj = found[("planted", "position_camera", 0)].readouts["object"]
    assert obj.baseline.label == "geometry" and obj.baseline.score == 0.50  # geometry beats nuisance 0.10
    assert obj.gain == pytest.approx(0.84 - 0.50)
    mlp = found[("planted", "contact_interval", 0)].readouts["mlp"]
    # the nuisance baseline is fitted with the linear readout only (label store, layer -1)
    assert mlp.baseline.label == "nuisance (linear)" and mlp.baseline.score == 0.55
    text = sentence(found[("planted", "contact_interval", 0)])
    for number in ("0.870", "0.840", "0.900", "0.550", "+0.320"):
        assert number in text


def _selection_where(target: str, readout: str) -> tuple[pd.DataFrame, pd.Series]:
    selection = planted_selection()
    return selection, (selection["store"] == "planted") & (selection["target"] == target) & (selection["readout"] == readout)


def test_object_readout_that_beats_geometry_turns_entangled_into_encoded():
    selection, mask = _selection_where("contact_interval", "object")
    selection.loc[mask, ["score", "ci_low", "ci_high"]] = [0.80, 0.77, 0.83]
    found = _by_key(diagnose(planted_results(), selection))
    assert found[("planted", "contact_interval", 0)].pattern == "encoded"


def test_without_ceiling_or_pixels_over_invariance_becomes_not_carried():
    results = planted_results()
    results = results[~((results["target"] == "acceleration_world") & (results["control"] == "ceiling"))]
    found = _by_key(diagnose(results, planted_selection()))
    assert found[("planted", "acceleration_world", 0)].pattern == "not carried"
    # velocity is carried only by the pixel store: drop it and the verdict changes too
    results = results[~((results["store"] == "pixels") & (results["target"] == "velocity_world"))]
    found = _by_key(diagnose(results, planted_selection()))
    assert found[("planted", "velocity_world", 0)].pattern == "not carried"


def test_margin_threshold_is_applied():
    # object gain over geometry is 0.35; with a 0.4 margin it no longer counts, pooled gains (0.70) still do
    found = _by_key(diagnose(planted_results(), planted_selection(), Thresholds(min_gain=0.4)))
    assert found[("planted", "position_camera", 0)].pattern == "entangled"


def test_interval_must_clear_the_control():
    selection = planted_selection()
    selection.loc[(selection["store"] == "planted") & (selection["target"] == "position_camera"), "ci_low"] = 0.0
    # gains are large but every interval reaches below the controls
    found = _by_key(diagnose(planted_results(), selection))
    d = found[("planted", "position_camera", 0)]
    assert not any(ev.beats for ev in d.readouts.values())
    assert d.pattern == "over-invariant"  # the ceiling and the pixels still show the data carry it


def test_lower_is_better_metric_geodesic():
    rows = []
    for layer, score in enumerate([70.0, 40.0, 30.0]):
        rows.append(dict(store="enc", encoder="enc", weights="trained", layer=layer, target="rot6d_camera", slot=0,
                         readout="linear", control="none", scenario="all", metric="geodesic_deg", score=score,
                         ci_low=score - 4, ci_high=score + 4, n=100, n_families=20, unit="deg", note=""))
    rows.append(dict(rows[0], layer=-1, control="nuisance", score=60.0, ci_low=56.0, ci_high=64.0))
    table = pd.DataFrame(rows)
    (d,) = diagnose(table, None)
    assert d.metric == "geodesic_deg" and d.chosen.layer == 2
    assert d.chosen.gain == pytest.approx(30.0) and d.pattern == "encoded"
    table.loc[table["control"] == "none", "score"] = [70.0, 58.0, 57.0]
    table.loc[table["control"] == "none", "ci_high"] = table.loc[table["control"] == "none", "score"] + 4
    (d,) = diagnose(table, None)
    assert d.pattern == "not carried"  # 3 degrees better than the nuisance baseline is below the 5-degree margin


def test_random_weight_twin_is_reported_beside_the_trained_store():
    results = planted_results()
    twin = results[(results["store"] == "planted") & (results["control"] == "none")].copy()
    twin["store"], twin["weights"], twin["control"], twin["score"] = "planted-random", "random", "random_init", twin["score"] * 0.5
    trained = results.copy()
    trained.loc[trained["store"] == "planted", "weights"] = "trained"
    found = _by_key(diagnose(pd.concat([trained, twin]), planted_selection()))
    assert "planted-random" in {d.store for d in found.values()}
    ref = found[("planted", "position_camera", 0)].references["random_init"]
    assert ref.label == "planted-random"
    # the twin's object readout at its own best layer (no selection rows for it): max(0.3, 0.6, 0.85, 0.8) * 0.5
    assert ref.score == pytest.approx(0.425)


def test_fmt_is_what_the_text_prints():
    assert fmt(0.8) == "0.800" and fmt(-0.02) == "-0.020" and fmt(0.35, signed=True) == "+0.350"
    assert fmt(float("nan")) == "n/a" and fmt(np.inf) == "n/a"


def test_diagnose_takes_a_run_or_its_path_and_states_the_planted_verdicts(tmp_path):
    """pk.diagnose(run) and pk.diagnose(path) use the run's own selection: the planted verdicts, as from the tables."""
    import probekit as pk
    from planted_run import make_planted_run

    from probekit.errors import BadOptionError

    run_dir = make_planted_run(tmp_path / "run", with_store=False)
    for given in (pk.load_run(run_dir), run_dir, str(run_dir)):
        found = {(d.store, d.target, d.slot): d.pattern for d in pk.diagnose(given)}
        assert {key: found.get(key) for key in EXPECTED} == EXPECTED
    with pytest.raises(BadOptionError, match="diagnose: got NoneType"):
        pk.diagnose(None)
