"""Planted failure modes get their verdicts; a random-weight twin is reported as a baseline.

Truth: :data:`probekit.testing.FAILURE_MODES` (what each planted store's latents hold, by
construction), not the diagnosis code.
"""

from __future__ import annotations

import pytest

from probekit.evaluation import run_probe
from probekit.report.verdicts import judge
from probekit.rundir import load_run
from probekit.testing import FAILURE_MODES, synthetic_labels, write_failure_mode_store, write_planted_store


pytestmark = pytest.mark.slow  # a full probe run with cross-fitted baselines (about 1 min on 2 free cores)


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("modes")
    labels, clips, frames = synthetic_labels(n_clips=120, n_steps=4, seed=7)
    stores = [write_failure_mode_store(tmp / f"{mode}.h5", labels, clips, frames, mode, seed=i) for i, mode in enumerate(FAILURE_MODES)]
    stores.append(write_planted_store(tmp / "twin.h5", labels, clips, frames, forms=("noise",), dim=24, seed=9,
                                      attrs={"encoder": "failure-bound", "weights": "random", "init": "random"}))
    suite = tmp / "modes.toml"
    suite.write_text('[suite]\nname = "modes"\ntargets = ["position_camera"]\nreadouts = ["linear", "object"]\n'
                     'controls = ["nuisance", "geometry", "ceiling"]\nfolds = 5\nseed = 0\nn_boot = 200\n'
                     '[suite.ceiling]\nreadouts = ["linear"]\n[readouts.linear]\nalphas = [1e-2, 1, 100, 1e4]\n'
                     '[readouts.object]\nalphas = [1e-2, 1, 100, 1e4]\n')
    run_probe(stores, tmp / "run", suite=suite)
    run = load_run(tmp / "run")
    return {(v.store, v.slot): v for v in judge(run.gains, run.selection)}


@pytest.mark.parametrize("mode", sorted(FAILURE_MODES))
def test_failure_mode_gets_its_verdict(verdicts, mode):
    found = [v for (store, slot), v in verdicts.items() if store.startswith(f"failure-{mode}:planted") and slot == 0]
    assert len(found) == 1
    assert found[0].verdict == FAILURE_MODES[mode], found[0].rests_on


def test_random_twin_is_a_baseline_never_a_failure(verdicts):
    twin = [v for (store, _), v in verdicts.items() if store.endswith(":random")]
    assert twin
    assert all(v.verdict.startswith("baseline") for v in twin)
