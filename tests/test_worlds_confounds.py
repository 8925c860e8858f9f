"""The confound table: nuisance-only models recover a planted confound level, not more."""

from __future__ import annotations

import numpy as np
import pytest

from probekit.worlds.confounds import Samples, ceiling_predictions, confound_table, nuisance_predictions, _score

NAMES = ["scenario", "slot", "frame", "count", "size"]


def _planted(n_groups: int = 80, frames: int = 12, seed: int = 0):
    """Nuisance features of n_groups clips x frames, and a hidden per-sample physical signal."""
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(n_groups), frames)
    scenario = group % 3
    frame = np.tile(np.arange(frames), n_groups).astype(float)
    size = np.repeat(rng.uniform(0.1, 0.3, n_groups), frames)
    nuisance = np.column_stack([scenario, np.zeros_like(frame), frame, np.ones_like(frame), size])
    hidden = rng.normal(size=len(group))  # what only the "pixels" show
    return nuisance, hidden, group.astype(str), np.array(["a", "b", "c"])[scenario]


def _samples(y, nuisance, hidden, groups, scenario):
    ceiling = np.column_stack([hidden, nuisance])
    return Samples(y, nuisance, NAMES, ceiling, groups, scenario)


def test_continuous_confound_level_is_recovered():
    nuisance, hidden, groups, scenario = _planted()
    frame = nuisance[:, 2]
    part = (frame - frame.mean()) / frame.std()
    # half the variance from the frame index, half hidden: the nuisance R² is 0.5 by construction
    y = part + hidden
    samples = _samples(y, nuisance, hidden, groups, scenario)
    pred, chosen = nuisance_predictions(samples, binary=False, folds=3, inner_folds=2)
    assert 0.4 < _score(False, y, pred) < 0.6
    ceiling = _score(False, y, ceiling_predictions(samples, binary=False, folds=3))
    assert ceiling > 0.85


def test_unconfounded_target_scores_zero():
    nuisance, hidden, groups, scenario = _planted(seed=1)
    samples = _samples(hidden, nuisance, hidden, groups, scenario)
    pred, _ = nuisance_predictions(samples, binary=False, folds=3, inner_folds=2)
    assert _score(False, hidden, pred) < 0.05


def test_binary_confound_level_is_recovered():
    nuisance, hidden, groups, scenario = _planted(seed=2)
    rng = np.random.default_rng(3)
    # the scenario x frame cell decides the label, then 20% of labels flip: balanced accuracy 0.8
    cell = ((nuisance[:, 0] == 1) & (nuisance[:, 2] >= 6)) | ((nuisance[:, 0] != 1) & (nuisance[:, 2] < 4))
    flip = rng.uniform(size=len(cell)) < 0.2
    y = (cell ^ flip).astype(float)
    samples = _samples(y, nuisance, hidden, groups, scenario)
    pred, chosen = nuisance_predictions(samples, binary=True, folds=3, inner_folds=2)
    assert 0.74 < _score(True, y, pred) < 0.86
    assert set(chosen) <= {"interacting", "boosted"}  # the additive model cannot express the cell rule


def test_confound_table_on_a_world_file():
    from worlds_data import shared_world

    table = confound_table(shared_world(), targets=("contact_ground", "gravity"), folds=3, seed=0)
    assert set(table.columns) >= {"target", "scenario", "base_rate", "applicable", "nuisance", "ceiling"}
    assert set(table.target) == {"contact_ground", "gravity"}
    ground = table[table.target == "contact_ground"].set_index("scenario")
    # objects rolling on the ground touch it in every frame: out of the [0.1, 0.9] base-rate range
    assert not ground.loc["occlude", "applicable"] and np.isnan(ground.loc["occlude", "nuisance"])
    assert table.loc[table.applicable, "nuisance"].notna().all()


def test_unknown_target_is_refused():
    from probekit.errors import BadOptionError
    from worlds_data import shared_world

    with pytest.raises(BadOptionError, match="valid targets"):
        confound_table(shared_world(), targets=("colour",))


def test_a_target_constant_in_one_scenario_is_not_applicable_there():
    from probekit.worlds.confounds import ConfoundTarget, applicable_scenarios, score_table

    nuisance, hidden, groups, scenario = _planted(seed=4)
    y = np.where(scenario == "c", 9.81, 10.0 + hidden)  # g fixed in scenario c, varied elsewhere
    samples = _samples(y, nuisance, hidden, groups, scenario)
    applicable = applicable_scenarios(samples, binary=False)
    assert {s for s, (ok, _) in applicable.items() if ok} == {"a", "b"}
    table = score_table(samples, ConfoundTarget("gravity", "continuous"), np.full(len(y), 10.0), None, []).set_index("scenario")
    assert not table.loc["c", "applicable"] and np.isnan(table.loc["c", "nuisance"])
    assert table.loc["pooled", "n"] == int((scenario != "c").sum())


@pytest.mark.parametrize("scenario", ["drop", "ramp", "roll"])
def test_the_ceiling_reads_g_from_the_motion(tmp_path, scenario):
    from probekit.worlds import generate_world
    from probekit.worlds.confounds import _implied_gravity, _load

    path = generate_world(tmp_path / "w.h5", clips=6, seed=1, scenarios=scenario, size=32, near_miss=False,
                          workers=1, progress=False)
    data = _load(path)
    implied = _implied_gravity(data)
    estimate = implied[:, 0] if scenario == "drop" else implied[:, 1]  # free flight, or the slope
    # the simulated g, recovered from positions alone (free fall |a| = g; a slope's a = g (sin t -/+ mu cos t)
    # for a sliding box, k g sin t for a rolling body)
    np.testing.assert_allclose(estimate, data["gravity"], rtol=0.03)
