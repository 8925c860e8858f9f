"""Conditional probing against planted shares: a target made of a scenario part and a unique part.

Slot 0's target is ``y = s + u`` with ``s = +1 / -1`` by scenario (what the nuisance baseline
can know) and ``u`` unit Gaussian noise per clip and step (what it cannot). Store ``unique``
carries ``u`` linearly at SNR 9 (best linear readout of u: R² 0.9); store ``redundant`` carries
only ``s``. With Var(y) = 2 the baseline explains half, so the joint model's known gain is
0.9 * 1/2 = 0.45 for ``unique`` and 0 for ``redundant``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from probekit.evaluation import run_probe
from probekit.store import write_store
from probekit.testing import synthetic_labels

UNIQUE_SHARE = 0.9 * 0.5


def _write(path, labels, clips, frames, signal, name, seed):
    rng = np.random.default_rng(seed)
    n, t = labels["exists"].shape[:2]
    time = rng.normal(size=(n, t, 8))
    time[..., 0] += signal
    layers = {0: {"time": time, "mean": time.mean(axis=1)}}
    attrs = {"encoder": name, "weights": "planted", "init": "planted", "layer_names": ["planted"], "shuffle_frames_seed": -1}
    return write_store(path, attrs=attrs, clips=clips, layers=layers, labels=labels, token_frames=frames, dtype="float32")


pytestmark = pytest.mark.slow  # a full probe run with cross-fitted baselines (about 1 min on 2 free cores)


def _planted_gains(tmp, *, n_clips: int, seed: int, noise_seed: int, label: str, target_of, suite_text: str) -> pd.DataFrame:
    """Slot 0's ``label`` := ``target_of(s, u)``; stores ``unique`` (carries 3u) and ``redundant``
    (carries 3s) probed together; the run's gains table."""
    labels, clips, frames = synthetic_labels(n_clips=n_clips, n_steps=6, seed=seed)
    rng = np.random.default_rng(noise_seed)
    n, t = labels["exists"].shape[:2]
    s = np.where(np.asarray(clips["scenario"]) == "drop", 1.0, -1.0)[:, None] * np.ones((1, t))
    u = rng.normal(size=(n, t))
    values = labels[label].astype(np.float64)
    values[:, :, 0] = target_of(s, u)
    labels[label] = values.astype(np.float32)
    unique = _write(tmp / "unique.h5", labels, clips, frames, 3.0 * u, "unique", 1)
    redundant = _write(tmp / "redundant.h5", labels, clips, frames, 3.0 * s, "redundant", 2)
    suite = tmp / "suite.toml"
    suite.write_text(suite_text)
    run_probe([unique, redundant], tmp / "run", suite=suite)
    return pd.read_csv(tmp / "run" / "gains.csv", keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def gains(tmp_path_factory):
    table = _planted_gains(tmp_path_factory.mktemp("cond"), n_clips=160, seed=5, noise_seed=11, label="visible_fraction",
                           target_of=lambda s, u: s + u,
                           suite_text='[suite]\nname = "cond"\ntargets = ["visible_fraction"]\nreadouts = ["linear"]\n'
                                      'controls = ["nuisance"]\nfolds = 5\nseed = 0\nn_boot = 300\n')
    return table[(table.target == "visible_fraction") & (table.slot == 0) & (table.baseline == "nuisance")]


def _row(table, store, versus=""):
    rows = table[(table.store.str.startswith(store)) & (table.versus.fillna("") == versus)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_unique_share_is_the_gain(gains):
    row = _row(gains, "unique")
    assert row.metric == "r2"
    assert row.ci_low <= UNIQUE_SHARE <= row.ci_high, (row.gain, row.ci_low, row.ci_high)
    assert abs(row.baseline_score - 0.5) < 0.06  # the baseline finds the scenario half


def test_pure_nuisance_feature_gains_nothing(gains):
    row = _row(gains, "redundant")
    assert row.ci_low <= 0.0 <= row.ci_high, (row.gain, row.ci_low, row.ci_high)
    assert abs(row.gain) < 0.02
    # while its marginal score would look like a success (it reads the scenario half)
    assert row.joint_score < 0.56


def test_difference_of_gains_is_paired_by_family(gains):
    diff = gains[(gains.store.str.startswith("unique")) & gains.versus.fillna("").str.startswith("redundant")]
    assert len(diff) == 1
    assert diff.iloc[0].ci_low > 0.3


def test_mlp_joint_model_on_a_binary_target_gains_the_unique_part(tmp_path):
    """A binary target ``contact = 1[s + u > 0]``: the MLP readout's joint model, fitted with the
    nuisance baseline's logit as a fixed offset, gains bits (interval above 0) from a store that
    carries ``u``, and nothing from one that carries only the scenario part ``s``."""
    table = _planted_gains(tmp_path, n_clips=120, seed=7, noise_seed=13, label="contact_interval",
                           target_of=lambda s, u: (s + u > 0).astype(np.float64),
                           suite_text='[suite]\nname = "mlp"\ntargets = ["contact"]\nreadouts = ["mlp"]\ncontrols = ["nuisance"]\n'
                                      "folds = 5\nseed = 0\nn_boot = 300\n[readouts.mlp]\nhidden = 16\nmax_epochs = 60\n"
                                      "batch_size = 32\nlr = 0.003\n")
    table = table[(table.target == "contact") & (table.slot == 0) & (table.baseline == "nuisance") & (table.readout == "mlp")]
    gained, nothing = _row(table, "unique"), _row(table, "redundant")
    assert gained.metric == "cross_entropy_bits" and gained.ci_low > 0.1, (gained.gain, gained.ci_low)
    assert nothing.ci_low <= 0.0 + 0.02 and nothing.gain < 0.1, (nothing.gain, nothing.ci_low, nothing.ci_high)


def test_logistic_joint_model_on_a_binary_target_gains_the_unique_part(tmp_path):
    """The same binary target through the linear readout: its joint logistic model (C chosen by
    inner cross-entropy along a warm-started C path, the baseline's logit as offset) gains bits
    from the store carrying ``u`` and nothing from the one carrying only ``s``."""
    table = _planted_gains(tmp_path, n_clips=120, seed=7, noise_seed=13, label="contact_interval",
                           target_of=lambda s, u: (s + u > 0).astype(np.float64),
                           suite_text='[suite]\nname = "lin"\ntargets = ["contact"]\nreadouts = ["linear"]\ncontrols = ["nuisance"]\n'
                                      "folds = 5\nseed = 0\nn_boot = 300\n")
    table = table[(table.target == "contact") & (table.slot == 0) & (table.baseline == "nuisance") & (table.readout == "linear")]
    gained, nothing = _row(table, "unique"), _row(table, "redundant")
    assert gained.metric == "cross_entropy_bits" and gained.ci_low > 0.1, (gained.gain, gained.ci_low)
    assert nothing.ci_low <= 0.0 + 0.02 and nothing.gain < 0.1, (nothing.gain, nothing.ci_low, nothing.ci_high)
