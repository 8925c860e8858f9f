"""A built wheel, installed non-editable into a fresh virtual environment, runs the whole job.

The suites (``probes/``) and recipes (``extract/``) must travel inside the wheel: from a folder
that holds no checkout, ``probekit extract pixels`` finds the recipe by name and ``probekit probe``
finds the default suite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO_ROOT = Path(__file__).resolve().parents[1]
#: What a wheel is built from: the package, the shipped folders and the build configuration.
SOURCES = ("probekit", "probes", "extract", "pyproject.toml", "setup.py", "README.md")


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """Build the wheel from a copy of the sources and install it into a new virtual environment."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        origin = REPO_ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, source / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    dist = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", dist, source], cwd=root, env=env)
    wheels = sorted(dist.glob("probekit-*.whl"))
    assert len(wheels) == 1, wheels
    venv = root / "venv"
    # pip comes from the system site-packages, which the environment sees (and so do the dependencies)
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], cwd=root, env=env)
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheels[0]], cwd=root, env=env)
    work = root / "work"
    work.mkdir()
    return {"wheel": wheels[0], "venv": venv, "python": python, "probekit": venv / "bin" / "probekit", "work": work,
            "env": env, "source": source}


def test_wheel_holds_suites_and_recipes(installed):
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        names = set(wheel.namelist())
    for suite in sorted((REPO_ROOT / "probes").glob("*.toml")):
        assert f"probekit/suites/{suite.name}" in names
    for recipe in sorted((REPO_ROOT / "extract").glob("*.toml")):
        assert f"probekit/recipes/{recipe.name}" in names
    assert "probekit/encoders/weights/tiny-vjepa2.safetensors" in names
    assert not any(name.startswith(("probes/", "extract/")) for name in names)


def test_installed_wheel_is_imported_and_finds_shipped_files_anywhere(installed):
    work, env = installed["work"], installed["env"]
    script = (
        "import probekit\n"
        "from probekit.evaluation.suite import find_suite\n"
        "from probekit.extraction.recipe import load_recipe\n"
        "from probekit.shipped import recipe_names, suite_names\n"
        "from probekit.training.recipe import REPO_RECIPE\n"
        "print(probekit.__file__)\n"
        "print(find_suite(None))\n"
        "print(find_suite('quick'))\n"
        "print(REPO_RECIPE)\n"
        "print(load_recipe('pixels')['encoder'])\n"
        "print(','.join(suite_names()))\n"
        "print(','.join(recipe_names()))\n"
    )
    lines = _run([installed["python"], "-c", script], cwd=work, env=env).stdout.strip().splitlines()
    package, default_suite, quick, train_recipe, encoder, suites, recipes = lines
    venv = installed["venv"].resolve()
    assert venv in Path(package).resolve().parents
    assert REPO_ROOT.resolve() not in Path(package).resolve().parents
    installed_package = Path(package).resolve().parent
    assert Path(default_suite).resolve() == installed_package / "suites" / "physics.toml"
    assert Path(quick).read_text() == (REPO_ROOT / "probes" / "quick.toml").read_text()
    assert Path(train_recipe).resolve() == installed_package / "recipes" / "tiny-vjepa2.train.toml"
    assert encoder == "pixels"
    assert suites.split(",") == sorted(p.stem for p in (REPO_ROOT / "probes").glob("*.toml"))
    assert recipes.split(",") == sorted(p.name.removesuffix(".toml") for p in (REPO_ROOT / "extract").glob("*.toml")
                                        if not p.name.endswith(".train.toml"))


def test_installed_wheel_cli_lists_shipped_recipes(installed):
    work, env, cli = installed["work"], installed["env"], installed["probekit"]
    proc = subprocess.run([str(cli), "extract", "no-such-recipe", "--data", "w.h5", "--out", "s.h5"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    message = proc.stderr.strip().splitlines()
    assert len(message) == 1 and message[0].startswith("error: recipe no-such-recipe: no such file")
    shipped = sorted(p.name.removesuffix(".toml") for p in (REPO_ROOT / "extract").glob("*.toml")
                     if not p.name.endswith(".train.toml"))
    assert message[0].endswith(", ".join(shipped))


def test_editable_install_finds_the_checkouts_folders(installed, tmp_path):
    """``pip install -e`` (as scripts/setup.sh does) keeps finding probes/ and extract/ of the checkout."""
    source, env = installed["source"], installed["env"]
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--no-build-isolation", "-q", "-e", source],
         cwd=tmp_path, env=env)
    script = ("import probekit\nfrom probekit.shipped import find_recipe_file, find_suite_file\n"
              "print(probekit.__file__)\nprint(find_suite_file('physics'))\nprint(find_recipe_file('tiny-vjepa2'))\n")
    package, suite, recipe = _run([python, "-c", script], cwd=installed["work"], env=env).stdout.strip().splitlines()
    assert Path(package).resolve() == (source / "probekit" / "__init__.py").resolve()
    assert Path(suite).resolve() == (source / "probes" / "physics.toml").resolve()
    assert Path(recipe).resolve() == (source / "extract" / "tiny-vjepa2.toml").resolve()


@pytest.mark.slow  # five command-line runs, the report's UMAP included: about a minute of CPU
def test_installed_wheel_runs_generate_extract_probe_report(installed):
    work, env, cli = installed["work"], installed["env"], installed["probekit"]
    _run([cli, "generate", "--out", "worlds.h5", "--clips", "8", "--frames", "8", "--size", "32",
          "--scenarios", "drop,roll"], cwd=work, env=env)
    _run([cli, "extract", "pixels", "--data", "worlds.h5", "--out", "pixels.h5", "--no-progress"], cwd=work, env=env)
    _run([cli, "probe", "pixels.h5", "--out", "run", "--targets", "position_camera", "--readouts", "linear",
          "--folds", "2", "--n-boot", "20", "--quiet"], cwd=work, env=env)
    _run([cli, "report", "run", "--out", "report.html"], cwd=work, env=env)

    import pandas as pd

    from probekit.store import Store

    with Store(work / "pixels.h5") as store:
        assert store.attrs["encoder"] == "pixels"
        assert str(store.attrs["recipe"]).endswith("probekit/recipes/pixels.toml")
    manifest = json.loads((work / "run" / "manifest.json").read_text())
    # the default suite, found inside the wheel, is the checkout's probes/physics.toml
    assert manifest["suite"] == tomllib.loads((REPO_ROOT / "probes" / "physics.toml").read_text())
    results = pd.read_parquet(work / "run" / "results.parquet")
    assert set(results["target"]) == {"position_camera"} and len(results) > 0
    assert "<html" in (work / "report.html").read_text(encoding="utf-8").lower()
