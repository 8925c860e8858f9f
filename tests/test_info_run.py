"""``probekit info RUN``: a readable summary of a run (stores and roles, targets, stages, the
headline, where the report is), the raw manifest behind ``--json``."""

from __future__ import annotations

import json
import re
import shutil

from tiny_cli_run import cli, planted_cli_run


def test_info_run_is_readable_and_states_the_planted_answer(tmp_path_factory, tmp_path):
    run_dir, _ = planted_cli_run(tmp_path_factory)
    result = cli("info", run_dir)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert not text.lstrip().startswith("{")  # not the raw JSON
    manifest = json.loads((run_dir / "manifest.json").read_text())
    label = manifest["inputs"][0]["label"]
    assert re.search(rf"^  {re.escape(label)}: planted-signal reference \(known answer\); encoder planted", text, re.MULTILINE), text
    assert "4 layers (0-3)" in text and "(on disk)" in text
    assert re.search(r"^targets \(2\): .*acceleration \(slots 0, 1, 2\)", text, re.MULTILINE), text
    assert re.search(r"^stages: probe$", text, re.MULTILINE), text
    assert re.search(r"^suite summary-e2e: 3 folds grouped by family, seed 0", text, re.MULTILINE), text
    # the headline: the planted layers and readouts
    assert re.search(r"^    encoded: acceleration \[slot 0\] \(object L3, ", text, re.MULTILINE), text
    assert re.search(r"^    entangled: position_camera \[slot 0\] \(linear L1, ", text, re.MULTILINE), text
    assert re.search(r"^report: none found .*probekit report", text, re.MULTILINE), text

    # a report where `probekit report` puts it by default is found
    copy = tmp_path / "myrun"
    shutil.copytree(run_dir, copy)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "myrun.html").write_text("<html></html>")
    found = cli("info", "myrun", cwd=tmp_path)
    assert re.search(r"^report: reports/myrun\.html$", found.stdout, re.MULTILINE), found.stdout + found.stderr

    raw = cli("info", run_dir, "--json")
    assert raw.returncode == 0 and json.loads(raw.stdout) == manifest


def test_info_json_of_a_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "x.h5"
    path.write_bytes(b"")
    result = cli("info", path, "--json")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and result.stderr.startswith("error: --json")


def test_info_describes_a_runs_attribution_file(tmp_path):
    """probekit info on attribution.h5 (written by attribute's own writer): one line per explained group."""
    import numpy as np

    from probekit.attribution.run import AttributeConfig, _write_maps
    from probekit.summary import describe

    def item(store, target, clip, layer):
        return {"store": store, "target": target, "slot": 0, "method": "ig", "clip": clip, "step": 1, "layer": layer,
                "frame_index": 2, "map": np.zeros((4, 8, 8), np.float16), "frame": np.zeros((8, 8, 3), np.uint8),
                "energy": 0.5, "chance": 0.1, "pointing": 1.0, "leakage": 0.0}

    kept = [item("enc", "contact", 0, 3), item("enc", "contact", 5, 3), item("pixels", "velocity", 2, 0)]
    out = tmp_path / "attribution.h5"
    _write_maps(out, kept, AttributeConfig(run=tmp_path, data=tmp_path / "w.h5"))
    text = describe(out)
    assert text.splitlines()[0] == f"{out}: probekit.attribution schema version 1 (complete)"
    assert "  enc / contact / slot0 / ig: 2 clips, layer 3" in text.splitlines()
    assert "  pixels / velocity / slot0 / ig: 1 clips, layer 0" in text.splitlines()
