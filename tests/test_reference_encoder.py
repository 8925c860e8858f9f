"""The shipped reference encoder: tiny-vjepa2's trained weights, their model card and evaluation.

Checked against transformers' own ``VJEPA2Model`` (the weights load through the user's path and
give the same latents), the card's hash, the size limit, and a collapse check on worlds of a
seed the model never saw.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from probekit.encoders.tiny import TINY_VJEPA2_CONFIG, TINY_VJEPA2_WEIGHTS, create_tiny_vjepa2
from probekit.errors import BadOptionError
from probekit.training.loop import file_sha256
from probekit.training.monitor import effective_rank

CARD = TINY_VJEPA2_WEIGHTS.with_suffix(".md")
EVALUATION = TINY_VJEPA2_WEIGHTS.with_suffix(".eval.json")


def test_shipped_weights_are_safetensors_under_20_mib_and_match_their_card():
    from safetensors import safe_open

    assert TINY_VJEPA2_WEIGHTS.is_file(), "tiny-vjepa2 ships trained weights (probekit train, then probekit evaluate --ship)"
    assert TINY_VJEPA2_WEIGHTS.stat().st_size <= 20 * 2**20
    with safe_open(str(TINY_VJEPA2_WEIGHTS), "pt") as f:  # safetensors: no pickle
        keys = set(f.keys())
    assert any(k.startswith("encoder.") for k in keys) and any(k.startswith("predictor.") for k in keys)
    card = CARD.read_text(encoding="utf-8")
    assert f"sha256 `{file_sha256(TINY_VJEPA2_WEIGHTS)}`" in card
    assert "## Held-out evaluation" in card and "## Recipe" in card
    summary = json.loads(EVALUATION.read_text(encoding="utf-8"))
    assert summary["setup"]["weights_sha256"] == file_sha256(TINY_VJEPA2_WEIGHTS)


def test_default_tiny_vjepa2_is_trained_and_equals_transformers_with_the_shipped_weights():
    from safetensors.torch import load_file
    from transformers import VJEPA2Config, VJEPA2Model

    trained = create_tiny_vjepa2()
    twin = create_tiny_vjepa2(init="random")
    assert trained.weights == "trained" and twin.weights == "random"
    reference = VJEPA2Model(VJEPA2Config(**TINY_VJEPA2_CONFIG)).eval()
    reference.load_state_dict(load_file(str(TINY_VJEPA2_WEIGHTS)))
    video = torch.randn(2, 16, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = trained.model(video, skip_predictor=True).last_hidden_state
        theirs = reference(video, skip_predictor=True).last_hidden_state
        random = twin.model(video, skip_predictor=True).last_hidden_state
    torch.testing.assert_close(ours, theirs)
    assert not torch.allclose(ours, random, atol=1e-3), "the random twin must differ from the trained weights"


def test_shipped_model_is_not_collapsed_on_unseen_worlds(tmp_path):
    """Effective rank of last-layer pooled latents: trained >= half its random twin (the issue's criterion)."""
    from probekit.extraction.run import ExtractConfig, run_extract
    from probekit.training.evaluate import pooled_last_layer
    from probekit.worlds import generate_world

    world = generate_world(tmp_path / "w.h5", clips=24, seed=4242, progress=False)
    ranks = {}
    for init in ("pretrained", "random"):
        path = tmp_path / f"{init}.h5"
        run_extract(ExtractConfig(data=str(world), out=str(path), encoder="tiny-vjepa2", init=init, layers="-1", pool="mean",
                                  batch_size=8, device="cpu", threads=2, progress=False))
        ranks[init] = effective_rank(pooled_last_layer(path))
    assert ranks["pretrained"] >= 0.5 * ranks["random"], ranks


def test_shipping_checks_the_evaluation_is_of_these_weights(tmp_path):
    from probekit.training.ship import ship_model

    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "model.safetensors").write_bytes(TINY_VJEPA2_WEIGHTS.read_bytes())
    (model_dir / "README.md").write_text("# card\n")
    evaluation = tmp_path / "eval"
    evaluation.mkdir()
    other = tmp_path / "other.safetensors"
    other.write_bytes(b"not these weights")
    (evaluation / "evaluation.json").write_text(json.dumps({"setup": {"weights": str(other), "weights_sha256": file_sha256(other)}}))
    (evaluation / "evaluation.md").write_text("## Held-out evaluation\n")
    with pytest.raises(BadOptionError, match="evaluate the weights you ship"):
        ship_model(model_dir, tmp_path / "w" / "t.safetensors", evaluation=evaluation)
    assert not (tmp_path / "w" / "t.safetensors").exists()
    (evaluation / "evaluation.json").write_text(
        json.dumps({"setup": {"weights": str(model_dir / "model.safetensors"), "weights_sha256": file_sha256(TINY_VJEPA2_WEIGHTS)}}))
    shipped = ship_model(model_dir, tmp_path / "w" / "t.safetensors", evaluation=evaluation)
    assert shipped.read_bytes() == TINY_VJEPA2_WEIGHTS.read_bytes()
    assert shipped.with_suffix(".md").read_text().endswith("## Held-out evaluation\n")
    assert json.loads(shipped.with_suffix(".eval.json").read_text())["setup"]["weights"] == "t.safetensors"


@pytest.mark.slow  # several minutes on 2 cores: kept out of the default run
def test_evaluate_cli_compares_trained_twin_and_pixels_with_paired_intervals(run_cli, tmp_path):
    """A small held-out evaluation end to end; its ranks and goal verdicts agree with its own stores and comparisons."""
    from probekit.rundir import load_run
    from probekit.store import Store
    from probekit.training.evaluate import PIXELS, RANDOM, TRAINED, pooled_last_layer

    out = tmp_path / "eval"
    result = run_cli("evaluate", "--out", out, "--clips", "12", "--folds", "3", "--n-boot", "50", "--seed", "77", "--voe-clips", "36",
                     timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "evaluation.json").read_text())
    for label in (TRAINED, RANDOM, PIXELS):
        assert summary["effective_rank"][label] == pytest.approx(effective_rank(pooled_last_layer(out / f"{label}.h5")))
    run = load_run(out / "run")
    assert {"tiny-vjepa2:trained", "tiny-vjepa2:random"} <= set(run.stores) and len(run.stores) == 3
    pairs = {(c["target"], c["readout"], c["a"], c["b"]) for c in summary["comparisons"]}
    assert ("velocity", "object", TRAINED, RANDOM) in pairs and ("contact", "linear", TRAINED, PIXELS) in pairs
    for goal in summary["goal"]:
        assert goal["met"] == (goal["ci_low"] > 0), goal
    assert "## Held-out evaluation" in result.stdout and (out / "report.html").is_file()
    # surprise per principle on a VoE set: 36 families = 12 pairs per principle, for all three stores,
    # the predictor for the trained model and its twin only, each row the table's headline row
    surprise = pd.read_csv(out / "voe-surprise.csv")
    rows = summary["surprise"]
    assert {(r["store"], r["method"]) for r in rows} == {(TRAINED, "predictor"), (TRAINED, "dynamics"), (RANDOM, "predictor"),
                                                         (RANDOM, "dynamics"), (PIXELS, "dynamics")}
    assert {r["principle"] for r in rows} == {"permanence", "solidity", "gravity", "continuity", "immutability"}
    for r in rows:
        assert r["n_pairs"] == 12 and 0 <= r["ci_low"] <= r["score"] <= r["ci_high"] <= 1
        with Store(out / f"{r['store']}-voe.h5") as store:
            last = store.layers[-1]
        assert r["context"] == 4 if r["method"] == "predictor" else r["layer"] == last  # fixed before scoring
        match = surprise[(surprise.principle == r["principle"]) & (surprise.method == r["method"]) & (surprise.metric == "relative_accuracy_mean")
                         & (surprise.headline)]
        assert r["score"] in set(match.score)
    assert "## Surprise on violation-of-expectation twins" in result.stdout


def test_evaluate_cli_names_missing_weights(run_cli, tmp_path):
    result = run_cli("evaluate", "--out", tmp_path / "e", "--weights", tmp_path / "none.safetensors")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --weights") and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "e").exists()
