"""Resumable training checkpoints: tensors in safetensors (no pickle), committed by one manifest rename.

A checkpoint is two files: the tensors (``checkpoint-<step>-<token>.safetensors``, a name never
reused) and the manifest ``checkpoint.json`` (the JSON state, the tensors' file name and their
sha256). The tensors are written first under their new name; renaming the new manifest over the
old one is the single commit point. A kill at any moment leaves the old manifest naming the old
tensors (both intact) or the new manifest naming the new ones: never new tensors with an old step.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from probekit.errors import FileFormatError
from probekit.formats.atomic import atomic_path, atomic_write

#: Tensors file name of checkpoints written before the manifest named its tensors.
CHECKPOINT_TENSORS = "checkpoint.safetensors"
#: The manifest: the commit point of a checkpoint.
CHECKPOINT_STATE = "checkpoint.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(
    folder: Path,
    *,
    objective: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    state: dict[str, Any],
) -> None:
    """Write model, target encoder, optimizer moments and RNG state; commit them with one rename."""
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
    tensors_name = f"checkpoint-{int(state.get('step', 0)):08d}-{secrets.token_hex(4)}.safetensors"
    with atomic_path(folder / tensors_name) as tmp:
        save_file(tensors, str(tmp))
    sidecar["tensors"] = tensors_name
    sidecar["tensors_sha256"] = _sha256(folder / tensors_name)
    atomic_write(folder / CHECKPOINT_STATE, json.dumps(sidecar, indent=1))
    for stale in [*folder.glob("checkpoint-*.safetensors"), folder / CHECKPOINT_TENSORS]:
        if stale.name != tensors_name:
            stale.unlink(missing_ok=True)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The checkpoint's manifest (JSON state); a damaged one is a one-line :class:`FileFormatError`."""
    path = Path(folder) / CHECKPOINT_STATE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise FileFormatError(f"{path}: not a readable checkpoint manifest ({exc.__class__.__name__}); "
                              "restart with --overwrite") from None
    if not isinstance(state, dict) or not isinstance(state.get("step"), int) or "optimizer_param_groups" not in state:
        raise FileFormatError(f"{path}: not a probekit checkpoint manifest (no step or optimizer state); restart with --overwrite")
    return state


def load_checkpoint(
    folder: Path,
    *,
    objective: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote; returns the JSON state (step, recipe, ...)."""
    state = read_manifest(folder)
    tensors_path = folder / str(state.pop("tensors", CHECKPOINT_TENSORS))
    expected = state.pop("tensors_sha256", None)
    if not tensors_path.is_file() or (expected is not None and _sha256(tensors_path) != expected):
        raise FileFormatError(f"{tensors_path}: missing or damaged (its sha256 differs from the manifest's); "
                              "restart with --overwrite")
    try:
        tensors = load_file(str(tensors_path))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise FileFormatError(f"{tensors_path}: not a readable safetensors file ({exc.__class__.__name__}); "
                              "restart with --overwrite") from None
    try:
        objective.load_state_dict({k[len("objective.") :]: v for k, v in tensors.items() if k.startswith("objective.")})
        optimizer_state: dict[str, Any] = {"state": {}, "param_groups": state.pop("optimizer_param_groups")}
        for key, value in tensors.items():
            if key.startswith("optimizer."):
                _, index, name = key.split(".", 2)
                optimizer_state["state"].setdefault(int(index), {})[name] = value
        optimizer.load_state_dict(optimizer_state)
        generator.set_state(tensors["rng.generator"])
        torch.set_rng_state(tensors["rng.torch"])
    except (RuntimeError, KeyError, ValueError) as exc:
        raise FileFormatError(f"{folder}: the checkpoint does not fit this recipe's model or optimizer "
                              f"({exc.__class__.__name__}); resume with the recipe it was trained with, or --overwrite") from None
    return state
