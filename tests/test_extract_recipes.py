"""Shipped recipes parse and name known encoders; flags override; offline loading fails cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from _worlds import generated_world

from probekit.encoders import create_encoder, list_encoders
from probekit.errors import BadOptionError
from probekit.extraction import run_extract
from probekit.extraction.recipe import build_config, load_recipe
from probekit.store import Store

EXPECTED = {"vjepa2-vitl", "vjepa2-vith", "vjepa2-vitg", "videomae-base", "dinov2-base", "tiny-vjepa2",
            "tiny-vjepa2-random", "pixels"}
RECIPES = sorted(Path(__file__).resolve().parents[1] / "extract" / f"{name}.toml" for name in EXPECTED)


def test_every_expected_recipe_is_shipped():
    assert all(p.exists() for p in RECIPES)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipe_parses_and_names_a_known_encoder(recipe):
    values = load_recipe(recipe)
    config = build_config(recipe, {"data": "w.h5", "out": "s.h5"})
    known = list_encoders()
    name = values["encoder"]
    assert name in known["names"] or name.split(":", 1)[0] + ":" in known["prefixes"]
    assert config.encoder == name and config.recipe == str(recipe)


def test_flags_override_recipe_and_run(tmp_path):
    recipe = Path(__file__).resolve().parents[1] / "extract" / "tiny-vjepa2-random.toml"
    config = build_config(recipe, {"data": generated_world(4, seed=0), "out": tmp_path / "s.h5", "layers": "-1",
                                   "batch_size": 4, "progress": False})
    assert config.init == "random" and config.layers == "-1" and config.batch_size == 4
    run_extract(config)
    with Store(tmp_path / "s.h5") as store:
        assert store.layers == [6] and store.attrs["recipe"].endswith("tiny-vjepa2-random.toml")
        assert store.attrs["weights"] == "random"


def test_bad_recipe_keys_and_missing_data(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('encoder = "pixels"\nbatchsize = 3\n')
    with pytest.raises(BadOptionError, match="unknown key.*batchsize"):
        load_recipe(bad)
    with pytest.raises(BadOptionError, match="--data"):
        build_config(None, {"out": "x.h5"})


def test_hf_model_missing_offline_is_one_clean_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BadOptionError, match="hf:facebook/no-such-model-xyz.*HF_HUB_OFFLINE") as info:
        create_encoder("hf:facebook/no-such-model-xyz")
    assert "\n" not in str(info.value)
