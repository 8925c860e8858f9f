"""Verdict rules on gains tables whose right verdict is written down, and n/a for an object that
never moves.

Truth: the rules as the issue states them (module docstring of :mod:`probekit.report.verdicts`)
applied by hand to planted gains; and, for the n/a check, a planted slot whose target is a
constant up to noise of 1e-4 of the others' scale (what a base box that never moves looks like).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from probekit.evaluation import run_probe
from probekit.report.verdicts import judge
from probekit.store import write_store
from probekit.testing import synthetic_labels

COLUMNS = ["store", "role", "versus", "target", "slot", "readout", "baseline", "metric", "gain", "ci_low", "ci_high",
           "families_per_scenario", "note"]


def _gains(trained: tuple[float, float, float], twin: tuple[float, float, float], difference: tuple[float, float, float],
           pixels: tuple[float, float, float] | None = None, pixels_difference: tuple[float, float, float] | None = None) -> pd.DataFrame:
    """A gains table: trained, random twin (and pixels) over nuisance, and their paired differences."""
    rows = [["trained", "encoder", "", "velocity", 0, "object", "nuisance", "r2", *trained, 30, ""],
            ["twin", "random_twin", "", "velocity", 0, "object", "nuisance", "r2", *twin, 30, ""],
            ["trained", "encoder", "twin", "velocity", 0, "object", "nuisance", "r2", *difference, 30, "gain of trained minus gain of twin"],
            ["labels:ceiling", "ceiling", "", "velocity", 0, "object", "nuisance", "r2", 0.6, 0.5, 0.7, 30, ""],
            ["trained", "encoder", "labels:ceiling", "velocity", 0, "object", "nuisance", "r2", -0.4, -0.5, -0.3, 30, ""]]
    if pixels is not None:
        rows += [["pixels", "pixels", "", "velocity", 0, "object", "nuisance", "r2", *pixels, 30, ""],
                 ["trained", "encoder", "pixels", "velocity", 0, "object", "nuisance", "r2", *pixels_difference, 30, ""]]
    return pd.DataFrame(rows, columns=COLUMNS)


def _verdict_of(table: pd.DataFrame, store: str = "trained") -> str:
    found = [v for v in judge(table) if v.store == store]
    assert len(found) == 1
    return found[0].verdict


def test_encoded_below_the_twin_is_over_invariant():
    # trained gains +0.09, the twin +0.12; the paired difference's interval lies below 0
    table = _gains((0.09, 0.04, 0.13), (0.12, 0.07, 0.15), (-0.03, -0.05, -0.004))
    assert _verdict_of(table) == "over-invariant"
    assert _verdict_of(table, "twin") == "baseline: carries it"


def test_encoded_and_equal_to_the_twin_is_not_improved_by_training():
    table = _gains((0.09, 0.04, 0.13), (0.10, 0.06, 0.14), (-0.01, -0.04, 0.02))
    assert _verdict_of(table) == "not improved by training"


def test_encoded_above_a_twin_that_carries_nothing_is_encoded():
    table = _gains((0.09, 0.04, 0.13), (0.0, -0.02, 0.02), (0.09, 0.05, 0.13))
    assert _verdict_of(table) == "encoded"


def test_encoded_below_pixels_is_over_invariant_and_below_the_ceiling_alone_is_not():
    below_pixels = _gains((0.09, 0.04, 0.13), (0.0, -0.02, 0.02), (0.09, 0.05, 0.13),
                          pixels=(0.2, 0.15, 0.25), pixels_difference=(-0.11, -0.15, -0.07))
    assert _verdict_of(below_pixels) == "over-invariant"
    # every real encoder sits below the ground-truth ceiling: that alone never demotes an encoded gain
    above_pixels = _gains((0.09, 0.04, 0.13), (0.0, -0.02, 0.02), (0.09, 0.05, 0.13),
                          pixels=(0.02, 0.0, 0.04), pixels_difference=(0.07, 0.03, 0.11))
    assert _verdict_of(above_pixels) == "encoded"


def test_an_object_that_never_moves_gets_n_a(tmp_path):
    labels, clips, frames = synthetic_labels(n_clips=80, n_steps=4, seed=3)
    rng = np.random.default_rng(0)
    velocity = labels["velocity_world"].astype(np.float64)
    scale = float(velocity[:, :, :2].std())
    velocity[:, :, 2] = 1e-4 * scale * rng.normal(size=velocity[:, :, 2].shape)  # slot 2: at rest up to sensor noise
    labels["velocity_world"] = velocity.astype(np.float32)
    n, t = labels["exists"].shape[:2]
    time = rng.normal(size=(n, t, 12))
    time[..., :3] += 2.0 * velocity[:, :, 0]
    attrs = {"encoder": "moving", "weights": "planted", "init": "planted", "layer_names": ["planted"], "shuffle_frames_seed": -1}
    store = write_store(tmp_path / "moving.h5", attrs=attrs, clips=clips, layers={0: {"time": time, "mean": time.mean(axis=1)}},
                        labels=labels, token_frames=frames, dtype="float32")
    suite = tmp_path / "suite.toml"
    suite.write_text('[suite]\nname = "still"\ntargets = ["velocity"]\nreadouts = ["linear"]\ncontrols = ["nuisance"]\n'
                     'folds = 4\nseed = 0\nn_boot = 100\n')
    run_probe([store], tmp_path / "run", suite=suite)
    gains = pd.read_csv(tmp_path / "run" / "gains.csv", keep_default_na=False, na_values=[""])
    own = gains[(gains.versus.isna() | (gains.versus == "")) & (gains.baseline == "nuisance") & gains.store.str.startswith("moving")]
    by_slot = {int(row.slot): row for row in own.itertuples()}
    assert str(by_slot[2].note).startswith("n/a: object slot 2 barely varies"), by_slot[2].note
    assert np.isnan(by_slot[2].gain)
    assert not str(by_slot[0].note).startswith("n/a") and by_slot[0].ci_low > 0  # the planted slot keeps its gain
    assert not str(by_slot[1].note).startswith("n/a")
    verdicts = {v.slot: v.verdict for v in judge(gains) if v.store.startswith("moving")}
    assert verdicts[2] == "n/a"


def test_a_ceiling_read_by_another_readout_still_decides_over_invariance():
    """The ceiling is ground truth read by its own (linear) readout; an object-token readout that
    gains nothing while the ceiling gains +0.44 is over-invariant, not "not carried by the data"."""
    rows = [["trained", "encoder", "", "position", 0, "object", "nuisance", "r2", 0.03, -0.02, 0.075, 30, ""],
            ["labels:ceiling", "ceiling", "", "position", 0, "linear", "nuisance", "r2", 0.44, 0.37, 0.52, 30, ""],
            ["trained", "encoder", "labels:ceiling", "position", 0, "object", "nuisance", "r2", -0.41, -0.49, -0.33, 30,
             "gain of trained minus gain of labels:ceiling (linear readout)"]]
    assert _verdict_of(pd.DataFrame(rows, columns=COLUMNS)) == "over-invariant"
    # and with a ceiling that adds nothing, the data do not carry it
    rows[1][8:11] = [0.01, -0.01, 0.02]
    rows[2][8:11] = [0.02, -0.03, 0.06]
    assert _verdict_of(pd.DataFrame(rows, columns=COLUMNS)) == "not carried by the data"


def test_verdict_table_states_the_planted_gains_and_verdicts_as_numbers():
    """pk.verdicts: one row per store, the planted gains and paired differences as numbers, the rule's verdict."""
    from types import SimpleNamespace

    import probekit as pk

    table = _gains((0.09, 0.04, 0.13), (0.0, -0.02, 0.02), (0.09, 0.05, 0.13), pixels=(0.2, 0.15, 0.25),
                   pixels_difference=(-0.11, -0.16, -0.06))
    found = pk.verdicts(SimpleNamespace(results=pd.DataFrame(), gains=table, selection=pd.DataFrame())).set_index("store")
    trained = found.loc["trained"]
    assert (trained.gain, trained.gain_low, trained.gain_high) == (0.09, 0.04, 0.13)
    assert (trained.minus_random_twin, trained.minus_random_twin_low, trained.minus_random_twin_high) == (0.09, 0.05, 0.13)
    assert (trained.minus_pixels, trained.minus_pixels_low, trained.minus_pixels_high) == (-0.11, -0.16, -0.06)
    assert (trained.minus_ceiling, trained.minus_ceiling_low, trained.minus_ceiling_high) == (-0.4, -0.5, -0.3)
    assert trained.verdict == _verdict_of(table) == "over-invariant" and trained.metric == "r2"
    assert found.loc["pixels"].verdict == "baseline: carries it" and np.isnan(found.loc["pixels"].minus_random_twin)
    assert pk.verdicts(SimpleNamespace(results=pd.DataFrame(), gains=table.iloc[:0], selection=pd.DataFrame())).empty


def test_a_run_of_baseline_stores_alone_still_has_verdict_rows():
    """Only pixels and a random twin probed: the verdict table lists what each baseline carries (not an empty table)."""
    from probekit.report.verdicts import headline_rows

    table = _gains((0.09, 0.04, 0.13), (0.0, -0.02, 0.02), (0.09, 0.05, 0.13), pixels=(0.2, 0.15, 0.25),
                   pixels_difference=(-0.11, -0.16, -0.06))
    baselines_only = table[~table.store.isin(["trained", "labels:ceiling"])]
    rows = headline_rows(judge(baselines_only)).set_index("store")
    assert sorted(rows.index) == ["pixels", "twin"]
    assert rows.loc["pixels", "verdict"] == "baseline: carries it" and rows.loc["twin", "verdict"] == "baseline: adds nothing"
    assert rows.loc["pixels", "gain over nuisance"] == "+0.200 [+0.150, +0.250]"
    assert rows.loc["pixels", "baselines (gain over nuisance)"].startswith("twin: +0.000")
    with_encoder = headline_rows(judge(table))
    assert list(with_encoder.store) == ["trained"]  # with an encoder, baselines stay in their own column
