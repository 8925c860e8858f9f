"""examples/quickstart.ipynb runs top to bottom (nbclient, python3 kernel) on tiny data and
prints the diagnosis the planted run calls for."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from real_run import ANSWER, planted_real_run

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_notebook_runs_and_reports_the_planted_diagnosis(tmp_path, tmp_path_factory, monkeypatch):
    run_dir = planted_real_run(tmp_path_factory)  # a real `probekit probe` run on a planted store
    out = tmp_path / "quickstart.html"
    monkeypatch.setenv("PROBEKIT_RUN", str(run_dir))
    monkeypatch.setenv("PROBEKIT_REPORT_OUT", str(out))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    notebook = nbformat.read(REPO_ROOT / "examples" / "quickstart.ipynb", as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "control" not in code  # the tidy columns only: role and baseline, never the version-1 union
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )
    found = {(t, int(k)): p.strip() for _, t, k, p in re.findall(r"PATTERN (\S+) \| (\S+) \| (-?\d+) \| ([\w -]+)", text)}
    for key, (pattern, _, _) in ANSWER.items():
        assert found[key] == pattern
    images = [o for cell in notebook.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 4  # summary, curves, heatmap, UMAP
    assert out.is_file() and out.stat().st_size > 10_000
