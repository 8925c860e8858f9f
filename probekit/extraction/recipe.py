"""Extraction recipes: TOML files whose keys are the options of ``probekit extract``.

Keys are the long option names with ``_`` or ``-`` (``batch_size`` or ``batch-size``); a table
``[encoder_options]`` is passed to the encoder factory. Command-line flags override the recipe.
Recipe and flags are validated by one declared model (:class:`ExtractOptions`): types, ranges,
and unknown keys refused with a did-you-mean. ``trust_remote_code`` is accepted only from the
command line (``--trust-remote-code``), never from a recipe: a recipe must not be able to run a
folder's code by itself.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal, Mapping, Optional, Union

from pydantic import Field

from probekit.errors import BadOptionError
from probekit.extraction.run import ExtractConfig
from probekit.shipped import find_recipe_file
from probekit.validation import Bool, PositiveInt, Seed, Str, StrictModel, option_name, read_toml, validate

#: Keys a recipe may not set (only the command line may).
COMMAND_LINE_ONLY = ("trust_remote_code",)


class ExtractOptions(StrictModel):
    """Every option of one extraction, from a recipe or the command line."""

    data: Optional[Str] = None
    out: Optional[Str] = None
    encoder: Str = "tiny-vjepa2"
    init: Literal["pretrained", "random"] = "pretrained"
    layers: Union[Str, list[Annotated[int, Field(strict=True)]]] = "all"
    pool: Union[Str, list[Str]] = "mean,time,object"
    dtype: Literal["float16", "float32"] = "float16"
    batch_size: Annotated[int, Field(ge=1, le=1_000_000, strict=True)] = 8
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    compression: Literal["none", "gzip", "lzf"] = "none"
    resume: Bool = False
    overwrite: Bool = False
    shuffle_frames: Optional[Seed] = None
    frame_step: Annotated[int, Field(ge=1, le=100_000, strict=True)] = 1
    window: Optional[Annotated[int, Field(ge=1, le=100_000, strict=True)]] = None
    stride: Optional[Annotated[int, Field(ge=1, le=100_000, strict=True)]] = None
    on_bad_video: Literal["skip", "stop"] = "skip"
    trust_remote_code: Bool = False
    seed: Seed = 0
    threads: Optional[Annotated[int, Field(ge=1, le=1024, strict=True)]] = None
    max_clips: Optional[PositiveInt] = None
    progress: Bool = True
    encoder_options: dict[str, Any] = Field(default_factory=dict)
    label: Optional[Str] = None
    surprise: Bool = False
    format: Optional[Str] = None


#: Keys a recipe (or :func:`probekit.extract`) may set.
RECIPE_KEYS = frozenset(ExtractOptions.model_fields)


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "value"


def load_recipe(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a recipe; return the keys it sets (as :class:`ExtractConfig` fields).

    Raises
    ------
    BadOptionError
        Missing, non-UTF-8 or invalid TOML; an unknown key (with a did-you-mean); a value of the
        wrong type or range; ``trust_remote_code`` (command line only). One line naming the key
        and the file.
    """
    path = find_recipe_file(path)
    raw = read_toml(path, "recipe")
    values = {str(key).replace("-", "_"): value for key, value in raw.items()}
    for key in COMMAND_LINE_ONLY:
        if key in values:
            raise BadOptionError(f"recipe {path}: {key} is accepted only on the command line "
                                 f"(--{key.replace('_', '-')}); remove it from the recipe")
    validate(ExtractOptions, values, f"recipe {path}", name_of=_dotted)
    if "layers" in values and not isinstance(values["layers"], str):
        values["layers"] = ",".join(str(v) for v in values["layers"])
    if "pool" in values and not isinstance(values["pool"], str):
        values["pool"] = ",".join(values["pool"])
    return values


def build_config(recipe: str | os.PathLike | None, overrides: Mapping[str, Any]) -> ExtractConfig:
    """Recipe values, then every override that is not None; ``data`` and ``out`` are required."""
    recipe = find_recipe_file(recipe) if recipe else None
    values: dict[str, Any] = load_recipe(recipe) if recipe else {}
    values.update({k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in overrides.items() if v is not None})
    for required in ("data", "out"):
        if not values.get(required):
            raise BadOptionError(f"--{required} is required (on the command line or in the recipe)")
    validate(ExtractOptions, values, "extract", name_of=option_name)
    values["data"], values["out"] = str(values["data"]), str(values["out"])
    return ExtractConfig(**values, recipe=str(recipe) if recipe else None)
