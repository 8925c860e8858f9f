"""The one-way import contract of probekit's packages (CONTRIBUTING.md, "Layers").

Read from the source with ``ast`` (nothing is imported): every ``import probekit.X`` in a module of
layer k names a package of layer <= k, lazy imports inside functions included; module-level
imports between probekit's modules form no cycle; only the demo imports ``probekit.testing``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "probekit"

#: Layer of each top-level package or module of probekit, lowest first.
LAYERS = {
    0: {"errors", "validation", "bounds", "shipped", "h5io", "formats", "metrics", "devices", "progress"},
    1: {"data", "store", "rundir", "worlds", "encoders", "probes"},
    2: {"sources", "extraction", "evaluation", "stages", "attribution", "testing"},
    3: {"report", "plot", "training", "summary"},
    4: {"api", "demo", "cli", "__main__", "__init__"},
}
LAYER_OF = {name: layer for layer, names in LAYERS.items() for name in names}

#: Upward imports that are part of the design, each with its reason.
ALLOWED_UPWARD = {
    ("report", "api"): "probekit.report is also callable as pk.report(run, out), which lives in the API",
}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield path, name


def _imports(tree: ast.AST, top_level_only: bool):
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_package_has_a_layer():
    found = {_package(name) for _, name in _modules()}
    assert found <= set(LAYER_OF), f"give these a layer in LAYERS: {sorted(found - set(LAYER_OF))}"


def test_imports_point_down_the_layers():
    upward = []
    for path, name in _modules():
        source = _package(name)
        for imported in _imports(ast.parse(path.read_text(encoding="utf-8")), top_level_only=False):
            if not imported.startswith("probekit."):  # `from probekit import __version__` reads the root's version only
                continue
            target = _package(imported)
            if target == source:
                continue
            if LAYER_OF.get(target, 0) > LAYER_OF.get(source, 0) and (source, target) not in ALLOWED_UPWARD:
                upward.append(f"{path.relative_to(PACKAGE.parent)} imports {imported} (layer {LAYER_OF.get(target)} > {LAYER_OF.get(source)})")
    assert not upward, "\n".join(upward)


def test_module_level_imports_have_no_cycle():
    graph = nx.DiGraph()
    names = {name for _, name in _modules()}
    for path, name in _modules():
        for imported in _imports(ast.parse(path.read_text(encoding="utf-8")), top_level_only=True):
            while imported and imported not in names:
                imported = imported.rpartition(".")[0]
            # a package re-exporting its own submodules is how packages load (the parent is always
            # imported first), not a cycle
            if imported and imported != name and imported != "probekit" and not imported.startswith(f"{name}."):
                graph.add_edge(name, imported)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, cycles


@pytest.mark.parametrize("allowed", [("demo", "testing")])
def test_only_the_demo_imports_the_testing_helpers(allowed):
    importers = set()
    for path, name in _modules():
        if _package(name) == "testing":
            continue
        for imported in _imports(ast.parse(path.read_text(encoding="utf-8")), top_level_only=False):
            if imported.startswith("probekit.testing"):
                importers.add(_package(name))
    assert importers <= {allowed[0]}, importers
