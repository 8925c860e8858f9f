"""Files shipped with probekit: probe suites and extraction/training recipes.

In the source tree they live in the top-level ``probes/`` and ``extract/`` folders. A wheel ships
them as package data of ``probekit.suites`` and ``probekit.recipes`` (``setup.py`` maps the
folders onto those packages), found here with :mod:`importlib.resources`. A source checkout
(plain or installed with ``pip install -e``) has no such folders inside the package; there the
checkout's own ``probes/`` and ``extract/`` are used.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from probekit.errors import BadOptionError

#: Kind of shipped file -> (folder inside the installed package, folder in a source checkout).
SHIPPED_FOLDERS: dict[str, tuple[str, str]] = {
    "suites": ("suites", "probes"),
    "recipes": ("recipes", "extract"),
}

#: Suffix of training recipes among the recipes (``tiny-vjepa2.train.toml``).
TRAIN_SUFFIX = ".train.toml"


def shipped_folder(kind: str) -> Path | None:
    """The folder holding shipped files of ``kind`` (``"suites"`` or ``"recipes"``), or None.

    Parameters
    ----------
    kind
        A key of :data:`SHIPPED_FOLDERS`.

    Returns
    -------
    pathlib.Path or None
        The installed package-data folder, else the source checkout's folder, else None.
    """
    package_folder, checkout_folder = SHIPPED_FOLDERS[kind]
    installed = resources.files("probekit") / package_folder
    if installed.is_dir():
        return Path(str(installed))
    package = Path(str(resources.files("probekit")))
    checkout = package.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / checkout_folder).is_dir():
        return checkout / checkout_folder
    return None


def _shipped_files(kind: str) -> dict[str, Path]:
    folder = shipped_folder(kind)
    if folder is None:
        return {}
    return {path.name[: -len(".toml")]: path for path in sorted(folder.glob("*.toml"))}


def suite_names() -> list[str]:
    """Names of the shipped probe suites (``physics``, ``quick``, ...)."""
    return sorted(_shipped_files("suites"))


def recipe_names(*, training: bool = False) -> list[str]:
    """Names of the shipped extraction recipes, or of the training recipes (``*.train.toml``)."""
    names = _shipped_files("recipes")
    return sorted(name for name, path in names.items() if path.name.endswith(TRAIN_SUFFIX) == training)


def _find(kind: str, name_or_path: str | os.PathLike, names: list[str], option: str, *, training: bool = False) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    name = str(name_or_path).removesuffix(".toml")
    for candidate in (name, f"{name}.train") if training else (name,):
        if candidate in names:
            return _shipped_files(kind)[candidate]
    listing = ", ".join(names) if names else "none are installed"
    raise BadOptionError(f"{option} {name_or_path}: no such file; give a TOML path or one of: {listing}")


def find_suite_file(name_or_path: str | os.PathLike) -> Path:
    """A suite path, or the shipped suite of that name (``physics`` or ``physics.toml``).

    Raises
    ------
    BadOptionError
        Neither a file nor a shipped suite; the message lists the shipped names.
    """
    return _find("suites", name_or_path, suite_names(), "--suite")


def find_recipe_file(name_or_path: str | os.PathLike, *, training: bool = False) -> Path:
    """A recipe path, or the shipped extraction (or training) recipe of that name.

    Parameters
    ----------
    name_or_path
        A TOML path, or a shipped name such as ``tiny-vjepa2`` (for training also
        ``tiny-vjepa2.train``).
    training
        Look among the training recipes (``*.train.toml``) instead of the extraction recipes.

    Raises
    ------
    BadOptionError
        Neither a file nor a shipped recipe; the message lists the shipped names.
    """
    return _find("recipes", name_or_path, recipe_names(training=training), "recipe", training=training)
