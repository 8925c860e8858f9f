"""Training checkpoints commit through one manifest rename: a crash between the tensors and the
manifest keeps the previous checkpoint whole; damaged files are one-line errors on resume."""

from __future__ import annotations

import pytest
import torch

from probekit.errors import FileFormatError
from probekit.formats.atomic import set_write_hook
from probekit.training.checkpoint import CHECKPOINT_STATE, load_checkpoint, save_checkpoint


def _parts(seed: int):
    torch.manual_seed(seed)
    module = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(module.parameters(), lr=0.1)
    module(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    return module, optimizer, torch.Generator().manual_seed(seed)


def _save(folder, seed: int, step: int):
    module, optimizer, generator = _parts(seed)
    save_checkpoint(folder, objective=module, optimizer=optimizer, generator=generator, state={"step": step})
    return module


def _load(folder):
    module, optimizer, generator = _parts(99)
    state = load_checkpoint(folder, objective=module, optimizer=optimizer, generator=generator)
    return module, state


def test_crash_before_the_manifest_keeps_the_old_checkpoint(tmp_path):
    first = _save(tmp_path, seed=1, step=10)

    def crash_on_manifest(path):
        if path.name == CHECKPOINT_STATE:
            raise RuntimeError("killed")

    previous = set_write_hook(crash_on_manifest)
    try:
        with pytest.raises(RuntimeError):
            _save(tmp_path, seed=2, step=20)
    finally:
        set_write_hook(previous)
    module, state = _load(tmp_path)
    assert state["step"] == 10
    assert torch.equal(module.weight, first.weight)  # the old step's tensors, not the new ones
    second = _save(tmp_path, seed=2, step=20)
    module, state = _load(tmp_path)
    assert state["step"] == 20 and torch.equal(module.weight, second.weight)
    assert len(list(tmp_path.glob("checkpoint-*.safetensors"))) == 1


@pytest.mark.parametrize("damage", ["truncate-tensors", "flip-tensors", "truncate-manifest", "manifest-not-object"])
def test_damaged_checkpoint_is_one_line_error(tmp_path, damage):
    _save(tmp_path, seed=1, step=5)
    tensors = next(tmp_path.glob("checkpoint-*.safetensors"))
    manifest = tmp_path / CHECKPOINT_STATE
    if damage == "truncate-tensors":
        tensors.write_bytes(tensors.read_bytes()[:50])
    elif damage == "flip-tensors":
        data = bytearray(tensors.read_bytes())
        data[len(data) // 2] ^= 0xFF
        tensors.write_bytes(bytes(data))
    elif damage == "truncate-manifest":
        manifest.write_text(manifest.read_text()[:20])
    else:
        manifest.write_text("[1, 2]")
    with pytest.raises(FileFormatError) as info:
        _load(tmp_path)
    assert "\n" not in str(info.value)
