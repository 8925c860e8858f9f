"""Training recipes: a TOML file with [model], [data], [objective] and [optimization] tables."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

from probekit.errors import BadOptionError
from probekit.shipped import find_recipe_file

MASKINGS = ("multiblock", "future")

#: The recipe that trains the shipped ``tiny-vjepa2`` weights.
REPO_RECIPE = find_recipe_file("tiny-vjepa2", training=True)


@dataclass
class ModelSection:
    """Architecture: fields of transformers' ``VJEPA2Config``."""

    hidden_size: int = 128
    num_hidden_layers: int = 6
    num_attention_heads: int = 4
    mlp_ratio: float = 4.0
    crop_size: int = 64
    frames_per_clip: int = 16
    patch_size: int = 8
    tubelet_size: int = 2
    pred_hidden_size: int = 64
    pred_num_hidden_layers: int = 2
    pred_num_attention_heads: int = 4
    pred_mlp_ratio: float = 4.0


@dataclass
class DataSection:
    """Training worlds: a world file, generated with these options when it does not exist."""

    path: str = "reports/train-worlds.h5"
    clips: int = 1024
    seed: int = 1000
    frames: int = 16
    size: int = 64
    scenarios: str = "drop,ramp,roll,collide,occlude,stack"
    monitor_path: str = "reports/monitor-worlds.h5"
    monitor_clips: int = 64
    monitor_seed: int = 2000


@dataclass
class ObjectiveSection:
    """The JEPA objective and its variants."""

    masking: str = "multiblock"  # multiblock | future
    short_blocks: int = 8
    short_scale: float = 0.15
    long_blocks: int = 2
    long_scale: float = 0.7
    aspect_ratio: tuple[float, float] = (0.75, 1.5)
    future_context_steps: int = 4
    regularizer_weight: float = 0.0
    ema_start: float = 0.996
    ema_end: float = 1.0


@dataclass
class OptimizationSection:
    """AdamW with linear warm-up and cosine decay."""

    steps: int = 3000
    batch_size: int = 16
    lr: float = 5e-4
    min_lr: float = 1e-5
    warmup_steps: int = 200
    weight_decay: float = 0.04
    grad_clip: float = 1.0
    seed: int = 0
    threads: int = 2
    log_every: int = 25
    monitor_every: int = 250
    checkpoint_every: int = 250


@dataclass
class TrainRecipe:
    """A complete training recipe (see ``extract/tiny-vjepa2.train.toml``)."""

    name: str = "tiny-vjepa2"
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    objective: ObjectiveSection = field(default_factory=ObjectiveSection)
    optimization: OptimizationSection = field(default_factory=OptimizationSection)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable) of every field."""
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Raise :class:`BadOptionError` (one line naming the key and the allowed range) for values that cannot train."""
        model, data, obj, opt = self.model, self.data, self.objective, self.optimization
        _positive(model, "model", ("hidden_size", "num_hidden_layers", "num_attention_heads", "mlp_ratio", "crop_size",
                                    "frames_per_clip", "patch_size", "tubelet_size", "pred_hidden_size",
                                    "pred_num_hidden_layers", "pred_num_attention_heads", "pred_mlp_ratio"))
        for width, heads in (("hidden_size", "num_attention_heads"), ("pred_hidden_size", "pred_num_attention_heads")):
            if getattr(model, width) % getattr(model, heads):
                raise BadOptionError(f"recipe model.{width} ({getattr(model, width)}) must be divisible by model.{heads} ({getattr(model, heads)})")
        if model.crop_size % model.patch_size:
            raise BadOptionError(f"recipe model.crop_size ({model.crop_size}) must be a multiple of model.patch_size ({model.patch_size})")
        if model.frames_per_clip % model.tubelet_size:
            raise BadOptionError(f"recipe model.frames_per_clip ({model.frames_per_clip}) must be a multiple of model.tubelet_size ({model.tubelet_size})")
        _positive(data, "data", ("clips", "frames", "size"))
        if data.monitor_clips < 2:
            raise BadOptionError(f"recipe data.monitor_clips: {data.monitor_clips}; the collapse monitor needs at least 2 clips")
        if data.frames != model.frames_per_clip:
            raise BadOptionError(f"recipe data.frames ({data.frames}) must equal model.frames_per_clip ({model.frames_per_clip})")
        if obj.masking not in MASKINGS:
            raise BadOptionError(f"recipe objective.masking: {obj.masking!r} is unknown; use one of {', '.join(MASKINGS)}")
        time_steps = model.frames_per_clip // model.tubelet_size
        if obj.masking == "future" and not 0 < obj.future_context_steps < time_steps:
            raise BadOptionError(f"recipe objective.future_context_steps: {obj.future_context_steps} must be in 1..{time_steps - 1}")
        _positive(obj, "objective", ("short_blocks", "long_blocks"))
        for name in ("short_scale", "long_scale"):
            if not 0 < getattr(obj, name) < 1:
                raise BadOptionError(f"recipe objective.{name}: {getattr(obj, name)}; give the fraction of the frame each block covers, in (0, 1)")
        if len(obj.aspect_ratio) != 2 or not 0 < obj.aspect_ratio[0] <= obj.aspect_ratio[1]:
            raise BadOptionError(f"recipe objective.aspect_ratio: {list(obj.aspect_ratio)}; give [min, max] with 0 < min <= max")
        if obj.regularizer_weight < 0:
            raise BadOptionError(f"recipe objective.regularizer_weight: {obj.regularizer_weight}; give 0 (off) or a positive weight")
        if not 0 <= obj.ema_start <= obj.ema_end <= 1:
            raise BadOptionError(f"recipe objective.ema_start / ema_end: {obj.ema_start} / {obj.ema_end}; need 0 <= ema_start <= ema_end <= 1")
        _positive(opt, "optimization", ("steps", "batch_size", "lr", "threads", "log_every", "monitor_every", "checkpoint_every"))
        if opt.batch_size < 2:
            raise BadOptionError(f"recipe optimization.batch_size: {opt.batch_size}; give at least 2 (the regulariser and masks need a batch)")
        if not 0 <= opt.min_lr <= opt.lr:
            raise BadOptionError(f"recipe optimization.min_lr: {opt.min_lr}; need 0 <= min_lr <= lr ({opt.lr})")
        for name in ("warmup_steps", "weight_decay", "grad_clip"):
            if getattr(opt, name) < 0:
                raise BadOptionError(f"recipe optimization.{name}: {getattr(opt, name)}; give 0 (off) or a positive value")
        from probekit.validation import SEED_MAX

        for section_name, section, name in (("data", data, "seed"), ("data", data, "monitor_seed"), ("optimization", opt, "seed")):
            if not 0 <= getattr(section, name) <= SEED_MAX:
                raise BadOptionError(f"recipe {section_name}.{name}: {getattr(section, name)}; give a seed in 0..{SEED_MAX}")


def _positive(section: Any, section_name: str, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(section, name)
        if value <= 0:
            raise BadOptionError(f"recipe {section_name}.{name}: {value}; give a positive value")


def load_recipe(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> TrainRecipe:
    """Read a TOML training recipe; ``overrides`` maps ``"section.field"`` to a value."""
    from probekit.validation import did_you_mean, read_toml

    path = find_recipe_file(path, training=True)
    raw = read_toml(path, "recipe")
    name = raw.pop("name", "tiny-vjepa2")
    if not isinstance(name, str):
        raise BadOptionError(f"recipe {path}: name = {name!r}; give a string, e.g. 'tiny-vjepa2'")
    recipe = TrainRecipe(name=name)
    tables = ("model", "data", "objective", "optimization")
    for section_name, values in raw.items():
        if section_name not in tables:
            raise BadOptionError(f"recipe {path}: unknown table [{section_name}]{did_you_mean(section_name, tables)}; "
                                 f"use {', '.join(tables)}")
        if not isinstance(values, dict):
            raise BadOptionError(f"recipe {path}: {section_name} = {values!r}; give a table [{section_name}]")
        _update(getattr(recipe, section_name), values, f"{path} [{section_name}]")
    for dotted, value in (overrides or {}).items():
        section_name, _, field_name = dotted.partition(".")
        _update(getattr(recipe, section_name), {field_name: value}, f"override {dotted}")
    recipe.validate()
    return recipe


def _update(section: Any, values: dict[str, Any], where: str) -> None:
    names = {f.name: f for f in dataclasses.fields(section)}
    for key, value in values.items():
        if key not in names:
            from probekit.validation import did_you_mean

            hint = did_you_mean(key, names) or f"; known keys: {', '.join(names)}"
            raise BadOptionError(f"{where}: unknown key {key!r}{hint}")
        setattr(section, key, _typed(getattr(section, key), value, f"{where} {key}"))


def _typed(current: Any, value: Any, where: str) -> Any:
    """``value`` converted to the type of the field's default, or a one-line error naming the key."""
    def is_number(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    if isinstance(current, tuple):
        if not isinstance(value, (list, tuple)) or len(value) != len(current) or not all(is_number(v) for v in value):
            raise BadOptionError(f"{where}: {value!r}; give a list of {len(current)} finite numbers, e.g. {list(current)}")
        return tuple(float(v) for v in value)
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise BadOptionError(f"{where}: {value!r}; give true or false")
        return value
    if isinstance(current, int):
        if not (isinstance(value, int) and not isinstance(value, bool)) and not (isinstance(value, float) and math.isfinite(value) and value.is_integer()):
            raise BadOptionError(f"{where}: {value!r}; give a whole number, e.g. {current}")
        return int(value)
    if isinstance(current, float):
        if not is_number(value):
            raise BadOptionError(f"{where}: {value!r}; give a finite number, e.g. {current}")
        return float(value)
    if isinstance(current, str) and not isinstance(value, str):
        raise BadOptionError(f"{where}: {value!r}; give a string, e.g. {current!r}")
    return value
