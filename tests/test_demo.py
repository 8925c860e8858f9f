"""``probekit demo --quick``: the whole pipeline offline, and a report whose diagnosis recovers
the planted-signal reference's known answer and says plainly which weights were used."""

from __future__ import annotations

import re
from pathlib import Path

from report_items import read_report

from probekit.demo import PLANTED_ANSWER
from probekit.rundir import load_run
from probekit.store import Store


def test_demo_quick_recovers_the_planted_answer_and_states_the_weights(run_cli, tmp_path):
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

    run = load_run(out / "run")
    with Store(out / "tiny-vjepa2.h5") as store:
        trained = store.attrs["weights"] == "trained"
    if not trained:
        # no shipped weights: the demo says so, and brings the planted-signal reference
        assert "no trained weights" in result.stderr
        assert "RANDOM weights: untrained" in text
        planted = next(s for s in run.stores if s.startswith("planted"))
        for (target, slot), (pattern, readout, layer) in PLANTED_ANSWER.items():
            item = page.items[(planted, target, slot)]
            assert item["pattern"] == pattern, item["text"]
            assert f"{readout} readout at layer {layer}" in item["text"], item["text"]
    else:
        assert "trained weights (shipped with probekit)" in text
        assert any(s.endswith("random") for s in run.stores)
    assert any(s.startswith("pixels") for s in run.stores)
    assert any(s.startswith("tiny-vjepa2") for s in run.stores)
