"""Extraction recipes: TOML files whose keys are the options of ``probekit extract``.

Keys are the long option names with ``_`` or ``-`` (``batch_size`` or ``batch-size``); a table
``[encoder_options]`` is passed to the encoder factory. Command-line flags override the recipe.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any, Mapping

from probekit.errors import BadOptionError
from probekit.extraction.run import ExtractConfig
from probekit.shipped import find_recipe_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_FIELDS = {f.name for f in dataclasses.fields(ExtractConfig)} - {"recipe"}


def load_recipe(path: str | os.PathLike) -> dict[str, Any]:
    """Read a recipe (a TOML path or a shipped recipe's name) into a dict of :class:`ExtractConfig` fields."""
    path = find_recipe_file(path)
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadOptionError(f"recipe {path}: not valid TOML ({' '.join(str(exc).split())})") from None
    values = {key.replace("-", "_"): value for key, value in raw.items()}
    unknown = sorted(set(values) - _FIELDS)
    if unknown:
        raise BadOptionError(f"recipe {path}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(_FIELDS))}")
    if "layers" in values and not isinstance(values["layers"], str):
        values["layers"] = ",".join(str(v) for v in values["layers"])
    if "pool" in values and not isinstance(values["pool"], str):
        values["pool"] = ",".join(values["pool"])
    return values


def build_config(recipe: str | os.PathLike | None, overrides: Mapping[str, Any]) -> ExtractConfig:
    """Recipe values, then every override that is not None; ``data`` and ``out`` are required."""
    recipe = find_recipe_file(recipe) if recipe else None
    values: dict[str, Any] = load_recipe(recipe) if recipe else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    for required in ("data", "out"):
        if not values.get(required):
            raise BadOptionError(f"--{required} is required (on the command line or in the recipe)")
    values["data"], values["out"] = str(values["data"]), str(values["out"])
    return ExtractConfig(**values, recipe=str(recipe) if recipe else None)
