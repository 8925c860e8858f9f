"""The Python API has the command line's options and returns paths or loaded objects."""

from __future__ import annotations

import inspect

import h5py
import pytest

import probekit as pk
from probekit import api
from probekit.cli.extract import extract as extract_command
from probekit.cli.generate import generate as generate_command
from probekit.cli.probe import probe as probe_command
from probekit.cli.report import report as report_command
from probekit.errors import BadOptionError, ProbekitError
from probekit.extraction.recipe import RECIPE_KEYS


def _options(command) -> set[str]:
    return set(inspect.signature(command).parameters)


@pytest.mark.parametrize("function, command, cli_only", [
    (api.generate, generate_command, set()),
    (api.probe, probe_command, {"attentive_layers", "mlp_layers", "quiet"}),  # API: layers={...}, log=...
    (api.report, report_command, {"run_dir"}),                                  # API: run
])
def test_functions_take_the_commands_options(function, command, cli_only):
    missing = _options(command) - _options(function) - cli_only
    assert not missing, missing


def test_extract_takes_every_command_option():
    accepted = _options(api.extract) | RECIPE_KEYS
    assert _options(extract_command) <= accepted
    with pytest.raises(BadOptionError, match="unknown option"):
        pk.extract("x", "y.h5", batchsize=3)


def test_public_names_and_docstrings():
    for name in ("generate", "extract", "probe"):
        function = getattr(pk, name)
        assert function is getattr(api, name)
        assert "Parameters" in function.__doc__ and "Returns" in function.__doc__
    assert callable(pk.report) and "Returns" in api.report.__doc__
    with pytest.raises(ProbekitError):
        pk.report("no/such/run", "x.html")  # the package is callable: it is pk.report(run, out)


def test_generate_returns_the_world_file(tmp_path):
    path = pk.generate(tmp_path / "w.h5", clips=2, frames=4, size=32, scenarios=["drop"])
    assert path == tmp_path / "w.h5"
    with h5py.File(path, "r") as f:
        assert f["video/rgb"].shape[:4] == (2, 4, 32, 32)
