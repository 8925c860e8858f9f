"""Training recipes: a TOML file with [model], [data], [objective] and [optimization] tables."""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probekit.errors import BadOptionError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MASKINGS = ("multiblock", "future")

#: The recipe that trains the shipped ``tiny-vjepa2`` weights.
REPO_RECIPE = Path(__file__).resolve().parents[2] / "extract" / "tiny-vjepa2.train.toml"


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
        """Raise :class:`BadOptionError` for values that cannot train."""
        if self.objective.masking not in MASKINGS:
            raise BadOptionError(
                f"recipe objective.masking: {self.objective.masking!r} is unknown; use one of {', '.join(MASKINGS)}"
            )
        time_steps = self.model.frames_per_clip // self.model.tubelet_size
        if self.objective.masking == "future" and not 0 < self.objective.future_context_steps < time_steps:
            raise BadOptionError(
                f"recipe objective.future_context_steps: {self.objective.future_context_steps} must be in 1..{time_steps - 1}"
            )
        if self.model.hidden_size % self.model.num_attention_heads:
            raise BadOptionError("recipe model.hidden_size must be divisible by model.num_attention_heads")
        for name in ("steps", "batch_size", "threads"):
            if getattr(self.optimization, name) <= 0:
                raise BadOptionError(f"recipe optimization.{name} must be positive")
        if self.optimization.batch_size < 2:
            raise BadOptionError("recipe optimization.batch_size must be at least 2")


def load_recipe(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> TrainRecipe:
    """Read a TOML training recipe; ``overrides`` maps ``"section.field"`` to a value."""
    path = Path(path)
    if not path.exists():
        raise BadOptionError(f"recipe {path}: no such file; see extract/tiny-vjepa2.train.toml")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BadOptionError(f"recipe {path}: not valid TOML ({exc})") from None
    recipe = TrainRecipe(name=raw.pop("name", "tiny-vjepa2"))
    for section_name, values in raw.items():
        section = getattr(recipe, section_name, None)
        if section is None or not dataclasses.is_dataclass(section):
            raise BadOptionError(f"recipe {path}: unknown table [{section_name}]; use model, data, objective, optimization")
        _update(section, values, f"{path} [{section_name}]")
    for dotted, value in (overrides or {}).items():
        section_name, _, field_name = dotted.partition(".")
        _update(getattr(recipe, section_name), {field_name: value}, f"override {dotted}")
    recipe.validate()
    return recipe


def _update(section: Any, values: dict[str, Any], where: str) -> None:
    names = {f.name: f for f in dataclasses.fields(section)}
    for key, value in values.items():
        if key not in names:
            raise BadOptionError(f"{where}: unknown key {key!r}; known keys: {', '.join(names)}")
        current = getattr(section, key)
        if isinstance(current, tuple):
            value = tuple(value)
        elif isinstance(current, float):
            value = float(value)
        setattr(section, key, value)
