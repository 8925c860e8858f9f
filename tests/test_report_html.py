"""The HTML report: numbers equal the results table, strings escaped, nothing external,
absent stages said in one line, bad input refused with exit code 2."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from planted_run import CHOSEN, EXPECTED, make_planted_run

from probekit.errors import BadOptionError, FileFormatError
from probekit.formats.run import write_stage_table
from probekit.report.build import write_report
from probekit.report.diagnosis import fmt
from probekit.rundir import load_run


class _Collector(HTMLParser):
    """Collects diagnosis items (attributes + text), image sources and every src/href."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[dict] = []
        self.links: list[str] = []
        self.figures = 0
        self.tags: set[str] = set()
        self._in_item = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        for key in ("src", "href"):
            if key in attrs:
                self.links.append(attrs[key])
        if tag == "figure" and "report-figure" in (attrs.get("class") or ""):
            self.figures += 1
        if tag == "li" and attrs.get("class") == "diagnosis":
            self.items.append({**attrs, "text": ""})
            self._in_item = True

    def handle_endtag(self, tag):
        if tag == "li":
            self._in_item = False

    def handle_data(self, data):
        if self._in_item:
            self.items[-1]["text"] += data


def _parse(path: Path) -> _Collector:
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


@pytest.fixture(scope="module")
def planted_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    run_dir = make_planted_run(root / "run")
    out = write_report(run_dir, root / "out" / "planted.html")
    return run_dir, out


def test_diagnosis_in_the_html_states_the_planted_patterns_with_the_runs_numbers(planted_report):
    run_dir, out = planted_report
    run = load_run(run_dir).engine_view()  # the report keys scene-level rows by slot -1
    items = {(i["data-store"], i["data-target"], int(i["data-slot"])): i for i in _parse(out).items}
    for key, pattern in EXPECTED.items():
        item = items[key]
        assert item["data-pattern"] == pattern
        readout, layer, _ = CHOSEN[key]
        store, target, slot = key
        sel = run.selection
        row = sel[(sel["store"] == store) & (sel["target"] == target) & (sel["slot"] == slot)
                  & (sel["readout"] == readout) & (sel["choice"] == "readout")].iloc[0]
        for number in (row["score"], row["ci_low"], row["ci_high"]):
            assert fmt(number) in item["text"], (key, fmt(number), item["text"])
        assert f"layer {layer}" in item["text"] and f"{readout} readout" in item["text"]
        baseline = run.results[(run.results["store"] == "labels") & (run.results["target"] == target)
                               & (run.results["control"] == ("geometry" if readout == "object" else "nuisance"))]
        assert fmt(baseline["score"].iloc[0]) in item["text"]


def test_report_is_self_contained_and_has_one_figure_per_planned_plot(planted_report):
    run_dir, out = planted_report
    page = _parse(out)
    assert page.links and all(link.startswith(("data:", "#")) for link in page.links), [
        link[:60] for link in page.links if not link.startswith(("data:", "#"))]
    assert not ({"script", "link", "iframe", "object", "embed"} & page.tags)
    text = out.read_text(encoding="utf-8")
    assert not re.search(r"url\((?!#)", text.split("</style>")[0].split("<style>")[1])  # no CSS fetches
    results = load_run(run_dir).results
    own = results["control"].isin(["none", "pixels", "random_init", "shuffled"])
    targets = results[own & results["score"].notna()][["target", "slot"]].drop_duplicates()
    # summary + one curve per target + heatmap + selectivity + UMAP (the planted store is on disk)
    assert page.figures == 1 + len(targets) + 1 + 1 + 1
    assert not any(f'id="{key}"' in text for key in ("metrics", "attribution", "surprise"))  # only stages that ran
    assert "planted-signal reference encoder" in text  # weights said plainly
    assert not list(out.parent.glob(".*.partial"))


def test_strings_from_data_are_escaped_and_later_stages_appear_when_present(tmp_path):
    run_dir = make_planted_run(tmp_path / "run", with_store=False, stages=("probe", "metrics"))
    evil = "<script>alert('x')</script>"
    results = load_run(run_dir).results
    results.loc[results["target"] == "mass", "note"] = evil
    results.loc[results["store"] == "pixels", "store"] = evil
    results.to_parquet(run_dir / "results.parquet", index=False)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["suite"]["name"] = evil
    manifest["inputs"][1]["label"] = evil
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    write_stage_table(run_dir, "metrics", pd.DataFrame({"metric": ["slot_binding", evil], "layer": [2, 3], "score": [0.61, 0.1]}))
    out = write_report(run_dir, tmp_path / "r.html")
    text = out.read_text(encoding="utf-8")
    assert "<script" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text
    assert "slot_binding" in text and 'id="metrics"' in text
    assert "No UMAP: none of the run&#39;s latent stores is on disk" in text
    page = _parse(out)
    assert page.figures == 1 + 5 + 1 + 1  # no UMAP without the store


def test_report_refuses_bad_runs(tmp_path):
    with pytest.raises(FileFormatError, match="no such run directory"):
        write_report(tmp_path / "missing", tmp_path / "r.html")
    run_dir = make_planted_run(tmp_path / "run", with_store=False)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    (run_dir / "manifest.json").write_text(json.dumps({**manifest, "complete": False}))
    with pytest.raises(FileFormatError, match="incomplete"):
        write_report(run_dir, tmp_path / "r.html")
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    make_planted_run(tmp_path / "run2")  # with its store, so the UMAP target is looked up
    with pytest.raises(BadOptionError, match="--umap-target"):
        write_report(tmp_path / "run2", tmp_path / "r.html", umap_target="nope")
    assert not (tmp_path / "r.html").exists() and not list(tmp_path.glob(".*.partial"))


def test_unknown_umap_target_is_refused_before_any_figure(tmp_path, monkeypatch):
    from probekit.report import build, figures

    make_planted_run(tmp_path / "run")
    drawn = []
    monkeypatch.setattr(figures, "layer_curves", lambda *a, **k: drawn.append(a) or None)
    with pytest.raises(BadOptionError, match="--umap-target 'nope'"):
        build.build_context(load_run(tmp_path / "run"), umap_target="nope")
    assert drawn == []


def test_cli_errors_are_one_line_exit_2(run_cli, tmp_path):
    result = run_cli("report", str(tmp_path / "missing"), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "missing" in lines[0]
    run_dir = make_planted_run(tmp_path / "run", with_store=False)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    (run_dir / "manifest.json").write_text(json.dumps({**manifest, "schema_version": 7}))
    result = run_cli("report", str(run_dir), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 2
    assert "schema version 7 found" in result.stderr and "reads versions 1 and 2" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    result = run_cli("report", str(run_dir), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r.html").is_file() and "r.html" in result.stdout
    result = run_cli("report", str(run_dir), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 2 and "--overwrite" in result.stderr
