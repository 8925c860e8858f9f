"""Resumable training checkpoints in safetensors (no pickle) plus a JSON sidecar."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

CHECKPOINT_TENSORS = "checkpoint.safetensors"
CHECKPOINT_STATE = "checkpoint.json"


def save_checkpoint(
    folder: Path,
    *,
    objective: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    state: dict[str, Any],
) -> None:
    """Write model, target encoder, optimizer moments and RNG state atomically."""
    tensors: dict[str, torch.Tensor] = {
        f"objective.{name}": value.detach().contiguous().clone() for name, value in objective.state_dict().items()
    }
    optimizer_state = optimizer.state_dict()
    for index, param_state in optimizer_state["state"].items():
        for key, value in param_state.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{key}"] = value.detach().contiguous().clone()
    tensors["rng.generator"] = generator.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    sidecar = dict(state)
    sidecar["optimizer_param_groups"] = optimizer_state["param_groups"]
    tmp_tensors = folder / f".{CHECKPOINT_TENSORS}.partial"
    tmp_state = folder / f".{CHECKPOINT_STATE}.partial"
    save_file(tensors, str(tmp_tensors))
    tmp_state.write_text(json.dumps(sidecar, indent=1))
    os.replace(tmp_tensors, folder / CHECKPOINT_TENSORS)
    os.replace(tmp_state, folder / CHECKPOINT_STATE)


def load_checkpoint(
    folder: Path,
    *,
    objective: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote; returns the JSON state (step, recipe, ...)."""
    tensors = load_file(str(folder / CHECKPOINT_TENSORS))
    state = json.loads((folder / CHECKPOINT_STATE).read_text())
    objective.load_state_dict({k[len("objective.") :]: v for k, v in tensors.items() if k.startswith("objective.")})
    optimizer_state: dict[str, Any] = {"state": {}, "param_groups": state.pop("optimizer_param_groups")}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            optimizer_state["state"].setdefault(int(index), {})[name] = value
    optimizer.load_state_dict(optimizer_state)
    generator.set_state(tensors["rng.generator"])
    torch.set_rng_state(tensors["rng.torch"])
    return state
