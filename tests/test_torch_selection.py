"""Honest selection for torch readouts: the MLP picks the planted layer of a binary target in
every outer fold (layer, epoch and hyper-parameters chosen by balanced accuracy on one inner
split of 20% of the training families)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from probekit.evaluation import run_probe
from probekit.testing import synthetic_labels, write_planted_store

PLANTED_LAYER = 1  # forms ("noise", "contact", "noise"): each slot's contact, linear in the pooled vector


@pytest.mark.slow  # 30 MLP fits (about 1 min on 2 free cores)
def test_mlp_picks_the_planted_layer_in_every_fold(tmp_path):
    labels, clips, frames = synthetic_labels(n_clips=80, n_steps=6, k_max=2, seed=4)
    store = write_planted_store(tmp_path / "planted.h5", labels, clips, frames, forms=("noise", "contact", "noise"), dim=16, seed=4)
    suite = tmp_path / "mlp.toml"
    suite.write_text(
        '[suite]\nname = "mlp"\ntargets = ["contact"]\nreadouts = ["mlp"]\ncontrols = []\nfolds = 5\nseed = 0\nn_boot = 50\n'
        '[suite.layers]\nmlp = "all"\n[readouts.mlp]\nhidden = [16, 32]\ndepth = 1\nmax_epochs = 25\nlr = 0.003\nbatch_size = 128\n'
    )
    run_probe([store], tmp_path / "run", suite=suite)
    sel = pd.read_csv(tmp_path / "run" / "selection.csv")
    for slot in (0, 1):
        row = sel[(sel.choice == "layer") & (sel.target == "contact") & (sel.slot == slot) & (sel.readout == "mlp")].iloc[0]
        assert json.loads(row.per_fold) == [PLANTED_LAYER] * 5, (slot, row.per_fold)
        assert row.metric == "balanced_accuracy" and row.score > 0.8
    # the readout choice is made in each outer fold and reported per fold
    choice = sel[(sel.choice == "readout") & (sel.target == "contact") & (sel.slot == 0)].iloc[0]
    assert json.loads(choice.per_fold) == ["mlp"] * 5
