"""Every command's help through the real command line: defaults shown (the recipe's and the
physics suite's where those give them), plain flags without a value placeholder, and examples
that name only options the command has."""

from __future__ import annotations

import inspect
import os
import re
import shlex
import subprocess
import sys
import tomllib

import pytest

from conftest import REPO_ROOT, _cli_env
from probekit.cli import app

COMMANDS = ["generate", "info", "extract", "merge", "probe", "attribute", "train", "evaluate", "report", "demo"]


def _help(*args: str) -> str:
    env = _cli_env()
    env["COLUMNS"] = "400"  # one line per option
    result = subprocess.run([sys.executable, "-m", "probekit", *args, "--help"], capture_output=True, text=True, env=env,
                            cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _option_lines(text: str) -> dict[str, str]:
    """Option name -> its help line."""
    lines = {}
    for line in text.splitlines():
        match = re.match(r"^│\s+\*?\s*(--[a-z][a-z0-9-]*)", line)
        if match:
            lines[match.group(1)] = line
    return lines


def _declared(name: str) -> dict[str, inspect.Parameter]:
    """The command function's typer options, by long flag name."""
    function = next(c.callback for c in app.registered_commands if c.name == name)
    found = {}
    for parameter in inspect.signature(function).parameters.values():
        info = parameter.default
        decls = getattr(info, "param_decls", None) or ()
        long = next((d.split("/")[0] for d in decls if d.startswith("--")), None)
        if long:
            found[long] = info
    return found


@pytest.mark.parametrize("name", COMMANDS)
def test_help_shows_defaults_plain_flags_and_examples(name):
    text = _help(name)
    assert "<bool>" not in text
    lines = _option_lines(text)
    for flag, info in _declared(name).items():
        line = lines[flag]
        if isinstance(info.default, bool) and "/" not in "".join(info.param_decls):
            continue  # a plain flag: off unless given
        if info.default is not None and info.default is not ...:
            assert "default:" in line, line
    examples = re.findall(r"^\s+((?:torchrun .* -m )?probekit .+?)\s*$", text.split("Examples:")[1], re.MULTILINE)
    assert examples, text
    known = set(lines) | {"--help"}
    for example in examples:
        words = shlex.split(example)
        command = words[words.index("-m") + 2] if words[0] == "torchrun" else words[1]
        if command != name:
            continue
        unknown = [w for w in words if w.startswith("--") and w.split("=")[0] not in known]
        assert not unknown, (example, unknown)


def test_extract_and_probe_state_the_recipe_and_suite_defaults():
    from probekit.extraction.run import ExtractConfig

    lines = _option_lines(_help("extract"))
    for flag, field in (("--batch-size", "batch_size"), ("--pool", "pool"), ("--dtype", "dtype"), ("--layers", "layers")):
        assert f"[default: the recipe's, else {getattr(ExtractConfig, field)}]" in lines[flag], lines[flag]
    with open(os.path.join(REPO_ROOT, "probes", "physics.toml"), "rb") as handle:
        suite = tomllib.load(handle)["suite"]
    lines = _option_lines(_help("probe"))
    assert f"physics: {suite['folds']}]" in lines["--folds"]
    assert f"physics: {suite['n_boot']}]" in lines["--n-boot"]
    assert f"physics: {','.join(suite['readouts'])}]" in lines["--readouts"]
    assert f"physics: {len(suite['targets'])} targets]" in lines["--targets"]


def test_square_brackets_in_help_texts_are_kept():
    """Rich markup would swallow '[default: 64; 180 with --voe]' (it reads brackets as tags)."""
    line = _option_lines(_help("generate"))["--clips"]
    assert "[default: 64; 180 with --voe]" in line
