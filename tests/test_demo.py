"""``probekit demo --quick``: the whole pipeline offline, and a report that says plainly which
weights were used. With the shipped trained weights the demo compares them with their random
twin (the exact initial weights of the training run) and pixels; without them, its diagnosis
must recover the planted-signal reference's known answer."""

from __future__ import annotations

import pytest

import re
from pathlib import Path

import torch
from report_items import read_report

from probekit.demo import PLANTED_ANSWER
from probekit.rundir import load_run
from probekit.store import Store


@pytest.mark.slow  # several minutes on 2 cores: kept out of the default run
def test_demo_quick_uses_the_shipped_weights_and_their_random_twin(run_cli, tmp_path):
    from safetensors.torch import load_file

    from probekit.encoders.tiny import TINY_VJEPA2_WEIGHTS, build_tiny_vjepa2, create_tiny_vjepa2

    out = tmp_path / "demo"
    result = run_cli("demo", "--out", str(out), "--quick", timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    match = re.search(r"^report: (.+\.html)$", result.stdout, re.MULTILINE)
    assert match, result.stdout
    report = Path(match.group(1))
    assert report.is_file() and report == (out / "report.html").resolve()
    text = report.read_text(encoding="utf-8")
    page = read_report(text)
    assert all(link.startswith(("data:", "#")) for link in page.links)
    assert "trained weights (shipped with probekit)" in text

    run = load_run(out / "run")
    assert set(run.stores) == {"tiny-vjepa2:trained", "tiny-vjepa2:random", "pixels:none"}
    with Store(out / "tiny-vjepa2.h5") as trained, Store(out / "tiny-vjepa2-random.h5") as twin:
        assert trained.attrs["weights"] == "trained" and twin.attrs["weights"] == "random"
        assert trained.attrs["weight_hash"] == create_tiny_vjepa2().weight_hash()
        assert twin.attrs["weight_hash"] == create_tiny_vjepa2(init="random", seed=0).weight_hash()
    # the twin is the model before training: the shipped weights differ from the seeded initial weights
    initial = build_tiny_vjepa2(seed=0).state_dict()
    shipped = load_file(str(TINY_VJEPA2_WEIGHTS))
    assert not torch.equal(initial["encoder.layer.0.attention.query.weight"], shipped["encoder.layer.0.attention.query.weight"])


def test_demo_without_trained_weights_recovers_the_planted_answer(tmp_path, monkeypatch):
    import probekit.encoders.tiny as tiny
    from probekit.demo import DemoSizes, run_demo

    monkeypatch.setattr(tiny, "TINY_VJEPA2_WEIGHTS", tmp_path / "absent.safetensors")
    lines: list[str] = []
    result = run_demo(tmp_path / "demo", sizes=DemoSizes.quick(), log=lines.append)
    assert not result.trained_weights
    assert any("no trained weights" in line for line in lines)
    text = result.report.read_text(encoding="utf-8")
    assert "RANDOM weights: untrained" in text
    page = read_report(text)
    run = load_run(result.run)
    planted = next(s for s in run.stores if s.startswith("planted"))
    for (target, slot), (pattern, readout, layer) in PLANTED_ANSWER.items():
        item = page.items[(planted, target, slot)]
        assert item["pattern"] == pattern, item["text"]
        assert f"{readout} readout at layer {layer}" in item["text"], item["text"]


@pytest.mark.slow  # about 5 minutes on 2 cores: kept out of the default run
def test_demo_spends_its_probe_world_on_families_and_runs_the_twin_stages_on_its_voe_set(tmp_path):
    import json

    from probekit.data.worlds import WorldFile
    from probekit.demo import DemoSizes, run_demo

    sizes = DemoSizes(clips=10, folds=2, n_boot=20, scenarios=("drop", "collide"), voe_clips=30, attribution_clips=0)
    result = run_demo(tmp_path / "demo", sizes=sizes, log=lambda line: None)
    with WorldFile(result.world) as world:
        clips = world.clips()
    # the probe world: originals (5 families per scenario) and near misses only
    assert set(clips["kind"]) <= {"original", "near_miss"}
    assert (clips[clips.kind == "original"].groupby("scenario").size() == 5).all()
    manifest = json.loads((result.run / "manifest.json").read_text())
    assert {"binding", "structure", "surprise"} <= set(manifest["stages"])
    for stage in ("structure", "surprise"):  # run on the violation-of-expectation set, which says so
        assert manifest[stage]["data"].endswith("voe-worlds.h5")
    with WorldFile(result.out / "voe-worlds.h5") as voe:
        kinds = set(voe.clips()["kind"])
    assert {"original", "violation", "counterfactual"} <= kinds
